from .roi_extractor_3d import (TorchvisionRoIAlign, ZeroI2VRoIExtractor3D,
                               build_roi_layer, mmcv_ops_available)

__all__ = [
    'TorchvisionRoIAlign', 'ZeroI2VRoIExtractor3D', 'build_roi_layer',
    'mmcv_ops_available'
]
