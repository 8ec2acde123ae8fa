"""The AVA (spatio-temporal action detection) settings of the AVA tests
(tests/models/detectors/test_ava.py, tests/e2e/test_ava_e2e.py,
tests/datasets/test_safe_data_files.py): the configs, the tiny model's
--cfg-options, and the mmdet skip marker."""
import os.path as osp

import pytest
from mmengine.config import Config

from zeroi2v_mm.models.detectors import mmdet_available

from helpers import REPO

CONFIG = osp.join(REPO, 'configs/demo/zeroi2v_ava_synthetic.py')
FULL_CONFIG = osp.join(
    REPO, 'configs/detection/zeroi2v/'
    'zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py')
STEM = 'zeroi2v_ava_synthetic'  # the merge hook names its files after it
# The demo config, made seconds-long for CI (its data paths are relative:
# runs happen in a folder holding data/synthetic_ava).
TINY_OPTIONS = {
    'model.backbone.arch.width': 64,
    'model.backbone.arch.layers': 2,
    'model.backbone.arch.heads': 4,
    'model.roi_head.bbox_head.in_channels': 64
}
TINY = [f'{key}={value}' for key, value in TINY_OPTIONS.items()]

needs_mmdet = pytest.mark.skipif(
    not mmdet_available(),
    reason='mmdet is not installed (pip install mmdet==3.3.0, extra [ava])')


def val_dataset_cfg(root,
                    dataset_type: str = 'AVADataset',
                    **settings) -> dict:
    """The val split of a synthetic AVA set written under ``root``
    (``zeroi2v_mm.testing.synthetic_ava.make_dataset``) as a dataset
    config: its files, 5 classes, 8 fps, seconds 900-906, no pipeline
    unless given in ``settings``."""
    from zeroi2v_mm.testing import synthetic_ava
    anno = osp.join(str(root), 'annotations')
    return dict(
        dict(
            type=dataset_type,
            ann_file=osp.join(anno, 'ava_val_v2.2.csv'),
            label_file=osp.join(anno, synthetic_ava.LABEL_FILE),
            proposal_file=osp.join(anno, synthetic_ava.proposal_name('val')),
            data_prefix=dict(img=osp.join(str(root), 'rawframes')),
            num_classes=5,
            fps=8,
            timestamp_start=900,
            timestamp_end=906,
            test_mode=True,
            pipeline=[]), **settings)


def tiny_detector_cfg() -> Config:
    """The synthetic AVA demo config with the tiny model."""
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(TINY_OPTIONS)
    return cfg
