"""The worked example of docs/en/advanced_guides/adding_a_method.md: SSF-style
scale and shift (zeroi2v_mm/models/peft/ssf.py), a method added with one file
and one registration. It trains only its own parameters (and the video parts),
starts as the image model, and merges exactly into the plain model."""
import pytest
import torch
import torch.nn as nn

from mmaction.registry import MODELS
from zeroi2v_mm.models.peft import (PEFT_METHODS, SSF, ScaleShiftLinear,
                                    is_mergeable)
from zeroi2v_mm.reparam import (build_plain_model, count_adapted_linears,
                                merge_and_verify)

from helpers import TINY_ARCH

FRAMES = 4


def backbone_cfg(**kwargs):
    cfg = dict(
        type='ZeroI2VViT',
        arch=TINY_ARCH,
        num_frames=FRAMES,
        act='gelu',
        stdha=dict(offsets=[(-1, 1), (1, 1)]),
        peft=dict(type='SSF'))
    cfg.update(kwargs)
    return cfg


def recognizer_cfg(**kwargs):
    return dict(
        type='Recognizer3D',
        backbone=backbone_cfg(**kwargs),
        cls_head=dict(
            type='ZeroI2VHead',
            num_classes=5,
            in_channels=TINY_ARCH['width'],
            average_clips='prob'))


def clips(batch=2):
    return torch.randn(
        batch,
        3,
        FRAMES,
        TINY_ARCH['image_size'],
        TINY_ARCH['image_size'],
        generator=torch.Generator().manual_seed(0))


def test_registered_and_mergeable():
    assert PEFT_METHODS.get('SSF') is SSF
    assert SSF.mergeable
    assert is_mergeable(dict(model=recognizer_cfg()))
    assert not is_mergeable(backbone_cfg(peft=dict(type='AIM')))
    with pytest.raises(ValueError, match='targets'):
        MODELS.build(backbone_cfg(peft=dict(type='SSF', targets=('qkv', ))))


def test_only_scale_shift_and_video_parts_train():
    model = MODELS.build(
        backbone_cfg(peft=dict(type='SSF', targets=('mlp.c_fc', ))))
    wrapped = [m for m in model.modules() if isinstance(m, ScaleShiftLinear)]
    assert len(wrapped) == TINY_ARCH['layers']
    # the other linears stay plain nn.Linear
    assert type(model.transformer.resblocks[0].mlp.c_proj) is nn.Linear
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    want = {
        f'transformer.resblocks.{i}.mlp.c_fc.ssf_{kind}'
        for i in range(TINY_ARCH['layers'])
        for kind in ('scale', 'shift')
    }
    want |= {'temporal_embedding', 'ln_post.weight', 'ln_post.bias'}
    assert trainable == want


def test_starts_as_the_plain_model_and_one_step_moves_only_its_params():
    torch.manual_seed(0)
    model = MODELS.build(backbone_cfg())
    plain = MODELS.build(backbone_cfg(peft=None))
    state = {k: v for k, v in model.state_dict().items() if 'ssf_' not in k}
    assert set(state) == set(plain.state_dict())
    plain.load_state_dict(state)
    x = clips()
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x), rtol=0, atol=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(x).pow(2).mean().backward()
    optimizer.step()
    changed = {
        k
        for k, v in model.state_dict().items()
        if not torch.equal(v, before[k])
    }
    assert changed and all(
        'ssf_' in k or k.startswith(('temporal_embedding', 'ln_post'))
        for k in changed)
    assert any('ssf_scale' in k for k in changed)


def test_merges_exactly_into_the_plain_model():
    cfg = recognizer_cfg()
    model = MODELS.build(cfg).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ScaleShiftLinear):
                module.ssf_scale.copy_(
                    1 + 0.1 *
                    torch.randn(module.out_features, generator=generator))
                module.ssf_shift.copy_(
                    0.1 *
                    torch.randn(module.out_features, generator=generator))
    plain = build_plain_model(cfg)
    merged, report = merge_and_verify(
        model, [clips()[:, None]],
        tolerance=1e-5,
        plain=plain,
        count_complexity=False)
    assert report['passed'] and report['max_abs_diff'] < 1e-5
    assert report['adapted_linears_before'] == 4 * TINY_ARCH['layers']
    assert count_adapted_linears(merged) == 0
    assert type(merged.backbone.transformer.resblocks[0].attn.in_proj) \
        is nn.Linear
    assert merged.backbone.method is None
    # the merged weights load into the plain model of the config, strictly
    plain.load_state_dict(merged.state_dict(), strict=True)
