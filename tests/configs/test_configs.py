"""Every config under configs/ builds: its model (weights not needed) and
its train/val/test pipelines, with no data on disk.

Video configs build with MMAction2's registries, the image-pretraining config
(``default_scope='mmpretrain'``) with mmpretrain's. ``pretrained`` paths are
replaced by None, so no weights file is read, and torch's random
initialisers are skipped (ViT-L has ~300M parameters): this checks that the
modules, shapes and pipelines build, not their initial values.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from helpers import REPO

CONFIGS = sorted(
    osp.relpath(path, REPO) for path in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(path, REPO).split(osp.sep))
FRAME_SAMPLERS = ('SampleFrames', 'UniformSample', 'SampleAVAFrames')


def without_pretrained(cfg):
    """A copy of a model config with every ``pretrained`` path set to None."""
    if isinstance(cfg, dict):
        return {
            key: None if key == 'pretrained' else without_pretrained(value)
            for key, value in cfg.items()
        }
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(without_pretrained(value) for value in cfg)
    return cfg


def registries(scope):
    if scope == 'mmpretrain':
        import mmpretrain.registry as registry
        from mmpretrain.utils import register_all_modules
    else:
        import mmaction.registry as registry
        from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return registry.MODELS, registry.TRANSFORMS


def pipelines(cfg):
    return {
        split: cfg[f'{split}_dataloader']['dataset']['pipeline']
        for split in ('train', 'val', 'test')
        if cfg.get(f'{split}_dataloader') is not None
    }


def test_configs_found():
    names = {osp.basename(path) for path in CONFIGS}
    for expected in ('zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
                     'zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py',
                     'pretrain_image_synthetic.py', 'naive_synthetic.py',
                     'finetune_synthetic.py', 'zeroi2v_synthetic.py'):
        assert expected in names


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path, skip_random_init):
    cfg = Config.fromfile(osp.join(REPO, path))
    scope = cfg.get('default_scope') or 'mmaction'
    models, transforms = registries(scope)
    model_cfg = without_pretrained(cfg.model.to_dict())
    backbone = model_cfg.get('backbone', {})

    with DefaultScope.overwrite_default_scope(scope):
        model = models.build(model_cfg)
        built = {
            split: [transforms.build(step) for step in steps]
            for split, steps in pipelines(cfg).items()
        }

    assert sum(p.numel() for p in model.parameters()) > 0
    assert set(built) == {'train', 'val', 'test'}
    assert all(built.values())

    # Every video pipeline samples the frame count the backbone was built
    # for (a mismatch only shows up at the first forward otherwise).
    num_frames = backbone.get('num_frames')
    if scope != 'mmpretrain' and num_frames is not None:
        for split, steps in pipelines(cfg).items():
            clip_lens = [
                step['clip_len'] for step in steps
                if step['type'] in FRAME_SAMPLERS
            ]
            assert clip_lens == [
                num_frames
            ], (f'{path} {split} pipeline samples {clip_lens} frames, the '
                f'backbone expects {num_frames}')


def test_datasets_check_labels_against_the_heads_classes():
    """Every config whose data is a CheckedVideoDataset gives it the head's
    num_classes, so that a label outside [0, num_classes) is an error at
    dataset load naming the file and line (a derived config that changes
    the head but not the dataset, or the reverse, fails here)."""
    checked = 0
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        head = cfg.model.get('cls_head') or {}
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            dataset = (cfg.get(loader) or {}).get('dataset') or {}
            if dataset.get('type') != 'CheckedVideoDataset':
                continue
            assert dataset.get('num_classes') == head.get('num_classes'), (
                f'{path} {loader}: dataset num_classes '
                f"{dataset.get('num_classes')} vs head "
                f"{head.get('num_classes')}")
            checked += 1
    assert checked >= 30


DEMO_CONFIGS = [
    path for path in CONFIGS if path.split(osp.sep)[:2] == ['configs', 'demo']
]


@pytest.mark.parametrize('path', DEMO_CONFIGS)
def test_demo_auto_scale_lr_base_is_the_real_batch(path):
    """The demo configs run in one process: their real batch is the train
    loader's batch_size (times gradient accumulation), which is what
    ``--auto-scale-lr`` must scale from."""
    cfg = Config.fromfile(osp.join(REPO, path))
    accumulation = cfg.optim_wrapper.get('accumulative_counts', 1)
    assert cfg.get('auto_scale_lr') is not None, path
    assert cfg.auto_scale_lr.base_batch_size == (
        cfg.train_dataloader.batch_size * accumulation), path
