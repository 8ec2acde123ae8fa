"""Spatio-temporal action detectors with a ZeroI2V backbone (AVA)."""
from ...compat import (install_mmcv_ops_placeholders,
                       mmcv_ops_placeholders_installed)
from .fast_rcnn import build_zeroi2v_fast_rcnn, mmdet_available, require_mmdet

__all__ = [
    'build_zeroi2v_fast_rcnn', 'install_mmcv_ops_placeholders',
    'mmcv_ops_placeholders_installed', 'mmdet_available', 'require_mmdet'
]
