"""Tests of the frame-halving layers: InTI, LinearPooling, ConvPooling.

Tiny sizes (tests/helpers/inti.py): C=64, grid 4x4, T=8, batch 2. Tokens are
(B*T, 1+h*w, C) with rows ``b*T + t`` and the CLS token at index 0. InTI
against a float64 loop reference of the paper, and its exact parameter and
FLOP counts: test_inti_reference.py.
"""
import pytest
import torch

from zeroi2v_mm.models.compressors.inti import ConvPooling, InTI

from helpers.inti import ALL, GRID, N1, B, C, T, pair, tokens


def perturbed_inti(**kwargs) -> InTI:
    """An InTI whose zero-init is broken so that weights depend on the input
    and every branch gets a gradient."""
    torch.manual_seed(0)
    layer = InTI(C, T, GRID, **kwargs)
    with torch.no_grad():
        layer.ffn[-1].weight.normal_(std=0.5)
        layer.ffn[-1].bias.normal_(std=0.5)
        layer.sigma.fill_(0.7)
    return layer


def force(monkeypatch, layer, a: float, b: float):

    def fixed(x, num_frames):
        w = torch.tensor([a, b], dtype=x.dtype)
        return w.expand(x.shape[0] // num_frames * (num_frames // 2),
                        x.shape[1], 2)

    monkeypatch.setattr(layer, 'pair_weights', fixed)


@pytest.mark.parametrize('cls', ALL)
def test_shapes(cls):
    layer = cls(C, T, GRID)
    assert layer(tokens(), T).shape == (B * T // 2, N1, C)


@pytest.mark.parametrize('cls', ALL)
def test_fresh_layer_equals_pair_mean(cls):
    x = tokens()
    even, odd = pair(x)
    torch.testing.assert_close(cls(C, T, GRID)(x, T), (even + odd) / 2)


def test_conv_pooling_spatial_kernel_init_is_mean():
    x = tokens()
    even, odd = pair(x)
    layer = ConvPooling(C, T, GRID, spatial_kernel=3)
    torch.testing.assert_close(layer(x, T), (even + odd) / 2)
    with pytest.raises(ValueError, match='spatial_kernel'):
        ConvPooling(C, T, GRID, spatial_kernel=2)


def test_forced_weights_one_zero_returns_even_frames(monkeypatch):
    layer = perturbed_inti()
    with torch.no_grad():
        layer.sigma.zero_()
    force(monkeypatch, layer, 1.0, 0.0)
    x = tokens()
    even, _ = pair(x)
    assert torch.equal(layer(x, T), even)


def test_forced_weights_half_returns_mean(monkeypatch):
    layer = perturbed_inti()
    with torch.no_grad():
        layer.sigma.zero_()
    force(monkeypatch, layer, 0.5, 0.5)
    x = tokens()
    even, odd = pair(x)
    torch.testing.assert_close(layer(x, T), (even + odd) / 2)


def test_fused_tokens_carry_temporal_embedding(monkeypatch):
    # Paper Eq. 8: the embedding is added before weight prediction *and*
    # fusion, so with weights (1, 0) the output is x_2j + sigma * P_2j.
    layer = perturbed_inti()
    force(monkeypatch, layer, 1.0, 0.0)
    x = tokens()
    even, _ = pair(x)
    pos = (layer.sigma * layer.temporal_embedding).detach()[0::2]  # (T/2, C)
    expected = even + pos.repeat(B, 1)[:, None, :]
    torch.testing.assert_close(layer(x, T), expected)


def test_weights_are_per_token_and_sum_to_one():
    layer = perturbed_inti()
    x = layer.add_temporal_embedding(tokens(), T)
    w = layer.pair_weights(x, T)
    assert w.shape == (B * T // 2, N1, 2)
    torch.testing.assert_close(w.sum(-1), torch.ones(B * T // 2, N1))
    assert w[..., 0].std() > 1e-3  # dynamic, not one shared pair


def test_output_cls_comes_from_the_two_cls_tokens_only():
    layer = perturbed_inti()
    x = tokens()
    with torch.no_grad():
        out = layer(x, T)
        xe = layer.add_temporal_embedding(x, T)
        w = layer.pair_weights(xe, T)
        even, odd = pair(xe)
        expected = w[:, 0, :1] * even[:, 0] + w[:, 0, 1:] * odd[:, 0]
        torch.testing.assert_close(out[:, 0], expected)
        # Patch tokens influence neither the CLS weights nor the CLS output.
        y = x.clone()
        y[:, 1:] = torch.randn_like(y[:, 1:])
        torch.testing.assert_close(layer(y, T)[:, 0], out[:, 0])


@pytest.mark.parametrize('cls', ALL)
def test_output_cls_from_cls_tokens_for_baselines(cls):
    layer = cls(C, T, GRID)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = tokens()
    y = x.clone()
    y[:, 1:] = torch.randn_like(y[:, 1:])
    with torch.no_grad():
        torch.testing.assert_close(layer(y, T)[:, 0], layer(x, T)[:, 0])


def test_gradients_reach_sigma_and_every_branch():
    layer = perturbed_inti()
    x = tokens().requires_grad_()
    target = torch.randn(B * T // 2, N1, C)
    loss = ((layer(x, T) - target)**2).mean()
    loss.backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name
    assert x.grad is not None


def test_zero_init_still_trains_the_predictor():
    layer = InTI(C, T, GRID)
    layer(tokens(), T).pow(2).mean().backward()
    assert layer.ffn[-1].weight.grad.abs().sum() > 0
    assert layer.sigma.grad.abs() > 0


@pytest.mark.parametrize('cls', ALL)
def test_odd_num_frames_raises(cls):
    with pytest.raises(ValueError, match='num_frames=7'):
        cls(C, 7, GRID)


@pytest.mark.parametrize('cls', ALL)
def test_forward_checks(cls):
    layer = cls(C, T, GRID)
    with pytest.raises(ValueError, match='num_frames=4'):
        layer(torch.randn(B * 4, N1, C), 4)
    with pytest.raises(ValueError, match='not divisible'):
        layer(torch.randn(B * T + 1, N1, C), T)
    with pytest.raises(ValueError):
        layer(torch.randn(B * T, N1 + 1, C), T)


@pytest.mark.parametrize('flags', [
    dict(use_cube=False, use_frame=False, use_global=False),
    dict(use_cube=True, use_frame=False, use_global=False),
    dict(use_cube=False, use_frame=True, use_global=True),
])
def test_context_ablations(flags):
    layer = perturbed_inti(**flags)
    assert layer(tokens(), T).shape == (B * T // 2, N1, C)
    for branch, attr in (('use_cube', 'cube_conv'),
                         ('use_frame', 'frame_fuse'), ('use_global',
                                                       'global_convs')):
        assert (getattr(layer, attr) is not None) == flags[branch]


@pytest.mark.parametrize('frames', [2, 4, 6])
def test_short_clips(frames):
    # The global branch pools /2 twice; short or odd lengths must still work.
    layer = InTI(C, frames, GRID)
    out = layer(torch.randn(B * frames, N1, C), frames)
    assert out.shape == (B * frames // 2, N1, C)


def test_init_weights_keeps_method_init():
    # A parent's init_cfg may re-initialise every Linear; init_weights must
    # restore the zero-init so a fresh layer still averages.
    layer = InTI(
        C, T, GRID, init_cfg=dict(type='TruncNormal', layer='Linear', std=0.5))
    layer.init_weights()
    x = tokens()
    even, odd = pair(x)
    torch.testing.assert_close(layer(x, T), (even + odd) / 2)
    conv = ConvPooling(
        C, T, GRID, init_cfg=dict(type='Kaiming', layer='Conv3d'))
    conv.init_weights()
    torch.testing.assert_close(conv(x, T), (even + odd) / 2)


@pytest.mark.parametrize('name', ['InTI', 'LinearPooling', 'ConvPooling'])
def test_registered(name):
    from mmaction.registry import MODELS
    layer = MODELS.build(
        dict(type=name, embed_dims=C, num_frames=T, grid_size=GRID))
    assert layer(tokens(), T).shape == (B * T // 2, N1, C)


# --------------------------------------------------------------------------
# Initialisation under a parent's init_cfg (a TruncNormal on every Linear
# would otherwise replace the zeroed last FFN layer, a Kaiming on every Conv3d
# the ConvPooling mean).

PARENT_INIT = [
    dict(type='TruncNormal', layer='Linear', std=0.5),
    dict(type='Kaiming', layer='Conv3d')
]


@pytest.mark.parametrize('kind', ['InTI', 'ConvPooling', 'LinearPooling'])
@pytest.mark.parametrize('backbone', ['ZeroI2VViT', 'UniFormerV2InTI'])
@pytest.mark.parametrize('level', ['backbone', 'recognizer'])
def test_fresh_layer_averages_under_a_parent_init_cfg(kind, backbone, level):
    from mmaction.registry import MODELS

    from helpers import TINY_ARCH, tiny_uniformerv2
    compress = dict(type=kind, after_blocks=(1, ))
    if backbone == 'ZeroI2VViT':
        backbone_cfg = dict(
            type='ZeroI2VViT', arch=TINY_ARCH, num_frames=4, compress=compress)
        head = dict(type='ZeroI2VHead', num_classes=3, in_channels=64)
    else:
        backbone_cfg = tiny_uniformerv2(t_size=4, compress=compress)
        head = dict(type='UniFormerHead', num_classes=3, in_channels=64)
    if level == 'backbone':
        backbone_cfg['init_cfg'] = PARENT_INIT
    recognizer = MODELS.build(
        dict(type='Recognizer3D', backbone=backbone_cfg, cls_head=head))
    if level == 'recognizer':  # MMAction2 recognizers take no init_cfg arg
        recognizer.init_cfg = PARENT_INIT
    layer = recognizer.backbone.compressors['1']
    before = [p.detach().clone() for p in layer.parameters()]
    recognizer.init_weights()
    x = torch.randn(2 * 4, 17, 64)
    pairs = x.reshape(4, 2, 17, 64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x, 4), pairs.mean(1))
    if kind == 'InTI':  # the parents' init did reach the layer's Linears
        assert not torch.equal(
            layer.token_proj[1].weight, before[[
                n for n, _ in layer.named_parameters()
            ].index('token_proj.1.weight')])
