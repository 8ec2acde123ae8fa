"""The comparison methods of ZeroI2V Tables 3 / 4 (``ZeroI2VViT(peft=...)``):
AIM, ST-Adapter, LoRA, GELU adapters, temporal-heads-only tuning: every one
starts as the plain model and trains only its own parameters, bad options
are refused, and the ViT-B/16 costs are the papers'. Costs are counted by
the library counter (:mod:`zeroi2v_mm.utils.complexity`), not by formulas.
Each method's own checks: test_aim.py, test_st_adapter.py, test_lora.py;
merging them: tests/reparam/test_method_merge.py; their configs:
tests/configs/test_baseline_configs.py."""
import pytest
import torch

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.utils.complexity import count_parameters, count_view_flops

from helpers import TINY_ARCH
from helpers.peft import (FRAMES, MARKERS, METHODS, build, clips, randomize,
                          tiny_recognizer_cfg)

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize('method', list(METHODS))
def test_builds_runs_and_starts_as_the_plain_model(method):
    """Every method is zero-initialised where the paper says so: before any
    training the model computes exactly what the plain model (same weights,
    same STDHA) computes; outputs keep the backbone's shapes."""
    torch.manual_seed(0)
    plain = build({}).eval()
    model = build(METHODS[method]).eval()
    missing, unexpected = model.load_state_dict(
        plain.state_dict(), strict=False)
    assert not unexpected
    assert missing and all(
        any(m in k for m in MARKERS.values()) or 'peft.' in k for k in missing)
    x = clips()
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, TINY_ARCH['width'], FRAMES, 1, 1)
        torch.testing.assert_close(out, plain(x), atol=1e-6, rtol=0)
    # after training-like changes it is no longer the plain model
    randomize(model)
    with torch.no_grad():
        assert (model(x) - plain(x)).abs().max() > 1e-4
    # and gradients reach the method's parameters
    model.train()
    model(x).sum().backward()
    grads = [
        p.grad for n, p in model.named_parameters()
        if any(m in n for m in MARKERS.values())
    ]
    assert grads and all(g is not None for g in grads)


@pytest.mark.parametrize('method', list(METHODS))
def test_trainable_set_is_method_temporal_embedding_ln_post(method):
    model = build(METHODS[method])
    marker = MARKERS[METHODS[method]['peft']['type']]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {n for n, _ in model.named_parameters() if marker in n}
    assert expected
    assert trainable == expected | {
        'temporal_embedding', 'ln_post.weight', 'ln_post.bias'
    }
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    for name in ('conv1.weight', 'positional_embedding',
                 'transformer.resblocks.0.attn.in_proj.weight',
                 'transformer.resblocks.0.mlp.c_fc.weight'):
        assert name in frozen
    # freeze_pretrained=False: everything trains, the method included
    full = build(METHODS[method], freeze_pretrained=False)
    assert all(p.requires_grad for p in full.parameters())


def test_head_trains_in_the_recognizer_of_a_baseline_config():
    cfg = tiny_recognizer_cfg(
        'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb')
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    assert all(p.requires_grad for p in model.cls_head.parameters())


def test_bad_peft_options_are_refused():
    with pytest.raises(ValueError, match='replaces the linear adapters'):
        build(dict(peft=dict(type='LoRA'), adapters=dict()))
    with pytest.raises(ValueError, match="type in"):
        build(dict(peft=dict(type='Prompt')))
    with pytest.raises(ValueError, match='stdha'):
        build(dict(peft=dict(type='TemporalHeads')), stdha=None)
    with pytest.raises(ValueError, match='num_tadapter'):
        build(dict(peft=dict(type='AIM', num_tadapter=3)))
    with pytest.raises(ValueError, match='positions'):
        build(dict(peft=dict(type='STAdapter', positions=('ffn', ))))
    with pytest.raises(ValueError, match='targets'):
        build(dict(peft=dict(type='LoRA', targets=('q_proj', ))))


# ViT-B/16 at 224 px, every block, but 2 frames instead of 8 to keep the
# traced forward passes short: per frame the costs do not depend on T except
# AIM's T x T temporal attention scores (2 T C MACs per token and block,
# 0.1% of a block at T = 8), so the ratios are the 8-frame ones to 0.2%.
# tools/benchmark.py --counts-only on the K400 baseline configs gives the
# 8-frame figures (README).
VIT_B_FRAMES = 2


@pytest.fixture(scope='module')
def vit_b_plain():
    model = ZeroI2VViT(arch='ViT-B/16', num_frames=VIT_B_FRAMES)
    return count_view_flops(model), count_parameters(model)


@pytest.mark.parametrize(
    'peft,paper_ratio,new_params', [
        (dict(type='AIM', num_tadapter=2), 624 / 422, 14.2e6),
        (dict(type='STAdapter', channels=384), 455 / 422, 7.1e6),
        (dict(type='GELUAdapter'), None, 14.2e6),
    ],
    ids=['AIM', 'STAdapter', 'GELUAdapter'])
def test_vit_b16_costs_match_the_papers(vit_b_plain, peft, paper_ratio,
                                        new_params):
    """ZeroI2V Table 4, ViT-B/16: AIM 624 and ST-Adapter 455 GFLOPs vs 422
    for the image ViT (8x1x3 views), within 3%; new parameters 14M and 7M.
    Dense GELU adapters: as many parameters as the 4 linear adapters
    (14.2M), which do not stay after merging."""
    plain_flops, plain_params = vit_b_plain
    model = ZeroI2VViT(arch='ViT-B/16', num_frames=VIT_B_FRAMES, peft=peft)
    ratio = count_view_flops(model) / plain_flops
    if paper_ratio is not None:
        assert abs(ratio / paper_ratio - 1) <= 0.03, ratio
    else:  # 4 bottlenecks of C/4 per block: 2 C^2 of ~12.6 C^2 MACs/token
        assert 1.14 < ratio < 1.18, ratio
    new = count_parameters(model) - plain_params
    assert abs(new / new_params - 1) <= 0.03, new
