"""Merging the linear adapters is exact: for every frame compression
between blocks (InTI, LinearPooling, ConvPooling) and adapter count;
verify_merge reports the difference and detects a wrong merge;
build_plain_model drops the adapters only. The merge after `mim train`
(MergeAdaptersHook, tools/merge_adapters.py): tests/engine/test_merge_hook.py.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.reparam import (build_plain_model, count_adapted_linears,
                                merge_adapters, merge_and_verify, verify_merge)

from helpers import REPO, TINY_ARCH, randomize_adapters


@pytest.mark.parametrize('num_adapters', [4, 6])
@pytest.mark.parametrize('compress', [
    dict(type='InTI', after_blocks=(1, )),
    dict(type='InTI', after_blocks=(1, 2)),
    dict(type='LinearPooling', after_blocks=(2, )),
    dict(type='ConvPooling', after_blocks=(1, )),
])
def test_merge_is_exact_with_frame_compression(num_adapters, compress):
    """Compression layers between blocks (InTI halves T) leave the merge
    exact; STDHA works on the halved frame count after them."""
    torch.manual_seed(0)
    kwargs = dict(
        arch=TINY_ARCH,
        num_frames=8,
        compress=compress,
        stdha=dict(offsets={
            1: 1,
            -1: 1
        }))
    model = ZeroI2VViT(
        adapters=dict(num_adapters=num_adapters, scale=0.5, dropout=0.1),
        **kwargs).eval()
    randomize_adapters(model)
    with torch.no_grad():  # InTI is zero-initialised: give it real work
        for name, param in model.compressors.named_parameters():
            param.add_(torch.randn_like(param) * 0.1)
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        before = model(x)
        merge_adapters(model)
        after = model(x)
    assert count_adapted_linears(model) == 0
    assert (before - after).abs().max() <= 1e-5
    plain = ZeroI2VViT(**kwargs)
    plain.load_state_dict(model.state_dict(), strict=True)


def test_verify_merge_reports_and_detects_a_wrong_merge():
    torch.manual_seed(0)
    model = ZeroI2VViT(
        arch=TINY_ARCH, num_frames=4, adapters=dict(scale=0.5)).eval()
    randomize_adapters(model)
    clips = [torch.randn(2, 3, 4, 32, 32) for _ in range(2)]
    merged, report = merge_and_verify(
        model, clips, tolerance=1e-5, count_complexity=False)
    assert report['passed'] and report['num_samples'] == 4
    assert report['max_abs_diff'] <= 1e-5
    assert count_adapted_linears(model) > 0  # the original is untouched
    with torch.no_grad():
        merged.transformer.resblocks[0].mlp.c_fc.bias.add_(0.1)
    bad = verify_merge(model, merged, clips, tolerance=1e-5)
    assert not bad['passed'] and bad['max_abs_diff'] > 1e-3


def test_build_plain_model_drops_adapters_only():
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'))
    cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.model.cls_head.in_channels = TINY_ARCH['width']
    plain = build_plain_model(cfg.model)  # no CLIP file needed
    assert plain.backbone.method is None
    assert plain.backbone.stdha_cfg == dict(offsets={1: 1, -1: 1})
    assert cfg.model.backbone.adapters is not None  # not modified
