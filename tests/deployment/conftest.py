"""Fixtures of the deployment tests (export, quantization): one tiny
unmerged checkpoint per test module, and the export tool."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from helpers import (first_video, load_tool, make_tiny_videos,
                     parse_cfg_options, randomize_adapters)
from helpers.deployment import CONFIG, overrides


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """An unmerged checkpoint of the tiny demo model (adapters non-zero) and
    the tiny videos, as training would leave them."""
    from mmaction.registry import MODELS
    root = tmp_path_factory.mktemp('export')
    data = make_tiny_videos(root / 'data', videos_per_class=1, val_per_class=1)
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(parse_cfg_options(overrides(data)))
    assert not osp.exists(cfg.model.backbone.pretrained)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    randomize_adapters(model)
    with torch.no_grad():  # a trained temporal embedding and head
        model.backbone.temporal_embedding.normal_(std=0.1)
        model.cls_head.fc_cls.weight.normal_(std=0.5)
    checkpoint = str(root / 'epoch_1.pth')
    torch.save(
        dict(meta=dict(epoch=1), state_dict=model.state_dict()), checkpoint)
    video = first_video(
        osp.join(data, 'val_list.txt'), osp.join(data, 'videos'))
    return dict(
        root=root,
        data=data,
        checkpoint=checkpoint,
        model=model,
        cfg=cfg,
        video=video)


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/deployment/export_onnx.py')
