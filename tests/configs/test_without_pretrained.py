"""The ``pretrained`` image-model file is needed only when training starts
from it. Building a model to load a full checkpoint (test, inference, FLOP
counts, export) works without it; training without it fails at once, with
the message naming the file."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from helpers import (REPO, first_video, make_tiny_videos, parse_cfg_options,
                     tiny_demo_overrides)

DEMO = osp.join(REPO, 'configs/demo/zeroi2v_synthetic.py')


def video_configs_with_pretrained():
    found = []
    for path in sorted(
            glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                      recursive=True)):
        rel = osp.relpath(path, REPO)
        if '_base_' in rel.split(osp.sep):
            continue
        cfg = Config.fromfile(path)
        backbone = cfg.get('model', {}).get('backbone') or {}
        if (cfg.get('default_scope', 'mmaction') == 'mmaction'
                and backbone.get('type') == 'ZeroI2VViT'):
            found.append(rel)
    return found


CONFIGS = video_configs_with_pretrained()


def test_configs_found():
    assert ('configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'
            in CONFIGS)
    assert 'configs/demo/zeroi2v_synthetic_merged.py' in CONFIGS
    assert len(CONFIGS) > 20


@pytest.mark.parametrize('path', CONFIGS)
def test_every_config_builds_without_its_pretrained_file(
        path, tmp_path, monkeypatch):
    """Built as test/inference do (no init_weights), from a directory where
    no weights file exists; only initialising the weights (the first thing
    training does) asks for the file. The width is shrunk (heads, layers,
    patch and image size kept) so that ViT-L configs build in a blink: the
    pretrained handling does not depend on it."""
    from mmaction.registry import MODELS
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(osp.join(REPO, path))
    backbone = cfg.model.backbone
    from zeroi2v_mm.models.backbones.image_vit import ARCHS
    arch = dict(ARCHS[backbone.arch]) if isinstance(backbone.arch, str) \
        else dict(backbone.arch)
    arch['width'] = 4 * arch['heads']
    backbone.arch = arch
    pretrained = backbone.get('pretrained')
    model = MODELS.build(cfg.model)
    if pretrained is None:
        assert path.endswith('_merged.py') or 'full_finetune' in path or \
            'scratch' in path or 'pretrained' not in Config.fromfile(
                osp.join(REPO, path)).model.backbone, path
        return
    assert not osp.exists(pretrained)
    with pytest.raises(FileNotFoundError, match=f'not found: {pretrained}'):
        model.backbone.init_weights()


def test_merged_demo_config_does_not_name_the_image_model():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/demo/'
                 'zeroi2v_synthetic_merged.py'))
    assert cfg.model.backbone.pretrained is None


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    """Tiny videos and a checkpoint of the tiny demo model; the config still
    names the demo's image model, which does not exist here."""
    from mmaction.registry import MODELS
    root = tmp_path_factory.mktemp('nopretrained')
    data = make_tiny_videos(root / 'data', videos_per_class=1, val_per_class=1)
    options = [
        o for o in tiny_demo_overrides(data, str(root / 'work'))
        if not o.startswith('model.backbone.pretrained')
    ]
    options.append('test_pipeline.3.scale=(32,32)')  # the inferencer's
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(parse_cfg_options(options))
    cfg.work_dir = str(root / 'work')
    assert not osp.exists(cfg.model.backbone.pretrained)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = str(root / 'trained.pth')
    torch.save(
        dict(meta=dict(epoch=1), state_dict=model.state_dict()), checkpoint)
    video = first_video(
        osp.join(data, 'val_list.txt'), osp.join(data, 'videos'))
    return dict(
        cfg=cfg, checkpoint=checkpoint, model=model, video=video, root=root)


def test_runner_test_works_without_the_file(demo_run):
    """What tools/test.py and `mim test` run."""
    from mmengine.runner import Runner
    cfg = demo_run['cfg'].copy()
    cfg.load_from = demo_run['checkpoint']
    cfg.custom_hooks = []
    metrics = Runner.from_cfg(cfg).test()
    assert 'acc/top1' in metrics


def test_mmaction_inferencer_works_without_the_file(demo_run):
    from mmaction.apis.inferencers import ActionRecogInferencer
    cfg = demo_run['cfg']
    inferencer = ActionRecogInferencer(
        model=cfg, weights=demo_run['checkpoint'], device='cpu')
    result = inferencer(demo_run['video'], return_datasamples=True)
    sample = result['predictions'][0]
    # the checkpoint's weights, not a random init
    torch.testing.assert_close(inferencer.model.cls_head.fc_cls.weight,
                               demo_run['model'].cls_head.fc_cls.weight)
    assert sample.pred_score.shape == (10, )


def test_training_without_the_file_fails_at_once(demo_run):
    from mmengine.runner import Runner
    cfg = demo_run['cfg'].copy()
    cfg.work_dir = str(demo_run['root'] / 'train')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(
            FileNotFoundError,
            match='pretrained weights file not found: '
            'work_dirs/pretrain_image_synthetic/.*tools/run_demo.sh'):
        runner.train()
    assert runner.iter == 0
    assert not glob.glob(osp.join(cfg.work_dir, '*.pth'))
