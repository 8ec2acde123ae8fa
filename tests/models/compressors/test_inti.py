"""Tests of the frame-halving layers: InTI, LinearPooling, ConvPooling.

Tiny sizes: C=64, grid 4x4, T=8, batch 2. Tokens are (B*T, 1+h*w, C) with rows
``b*T + t`` and the CLS token at index 0.
"""
import pytest
import torch

from zeroi2v_mm.models.compressors.inti import ConvPooling, InTI, LinearPooling

C, GRID, T, B = 64, (4, 4), 8, 2
N1 = 1 + GRID[0] * GRID[1]


def tokens(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B * T, N1, C, generator=gen)


def pair(x: torch.Tensor):
    """(B*T, N+1, C) -> even frames, odd frames, each (B*T/2, N+1, C)."""
    pairs = x.reshape(B * T // 2, 2, N1, C)
    return pairs[:, 0], pairs[:, 1]


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


ALL = (InTI, LinearPooling, ConvPooling)


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
# An independent float64 reference of the weight-prediction network
# (paper Eqs. 7-13, appendix B), written with loops over samples, pairs and
# tokens, checked against the layer for every context flag.

RC, RGRID, RT, RB = 8, (2, 3), 4, 2  # non-square grid, batch 2
FLAGS = [
    dict(use_cube=c, use_frame=f, use_global=g) for c in (False, True)
    for f in (False, True) for g in (False, True)
]


def _flag_id(flags):
    return '-'.join(k[4:] for k, v in flags.items() if v) or 'token_only'


def random_inti(frames=RT, dims=RC, grid=RGRID, seed=0, **flags) -> InTI:
    """An InTI in float64 with every parameter random (no zero start)."""
    torch.manual_seed(seed)
    layer = InTI(dims, frames, grid, **flags).double()
    with torch.no_grad():
        for param in layer.parameters():
            param.normal_(std=0.5)
    return layer


def _gelu(v):
    return 0.5 * v * (1 + torch.erf(v / 2**0.5))


def _ln_linear_gelu_ref(seq, v):
    """T_{in->out}: LayerNorm (eps 1e-5), Linear, GELU; seq = the layer's
    (LayerNorm, Linear, GELU), read for its parameters only."""
    norm, linear = seq[0], seq[1]
    mean = v.mean()
    var = ((v - mean)**2).mean()
    v = (v - mean) / torch.sqrt(var + 1e-5) * norm.weight + norm.bias
    return _gelu(linear.weight @ v + linear.bias)


def _dwconv1d_ref(conv, seq):
    """Depth-wise conv, kernel 3, stride 1, zero padding 1, over a list of
    per-step channel vectors."""
    w, b = conv.weight[:, 0, :], conv.bias  # (C, 3)
    out = []
    for t in range(len(seq)):
        acc = b.clone()
        for d in (-1, 0, 1):
            if 0 <= t + d < len(seq):
                acc = acc + w[:, d + 1] * seq[t + d]
        out.append(acc)
    return out


def _maxpool2_ref(seq):
    """Max-pool /2 over time; an odd last step pools alone (ceil mode)."""
    return [
        torch.maximum(seq[i], seq[i + 1]) if i + 1 < len(seq) else seq[i]
        for i in range(0, len(seq), 2)
    ]


def inti_reference(layer: InTI, x: torch.Tensor, frames: int):
    """Returns (z, weights): z (B*T/2, N+1, C), weights (B*T/2, N+1, 2)."""
    h, w = layer.grid_size
    tokens, dims = x.shape[1], x.shape[2]
    batch = x.shape[0] // frames
    # Eq. 8: X = X + sigma * P, P per frame, every token incl. CLS
    X = [[
        x[b * frames + t] + layer.sigma * layer.temporal_embedding[t]
        for t in range(frames)
    ] for b in range(batch)]
    z = torch.zeros(batch * frames // 2, tokens, dims, dtype=x.dtype)
    weights = torch.zeros(batch * frames // 2, tokens, 2, dtype=x.dtype)
    for b in range(batch):
        cls = [X[b][t][0] for t in range(frames)]
        glob = None
        if layer.use_global:  # appendix B
            seq = cls
            for conv in layer.global_convs[:2]:
                seq = [
                    _gelu(v) for v in _maxpool2_ref(_dwconv1d_ref(conv, seq))
                ]
            seq = _dwconv1d_ref(layer.global_convs[2], seq)
            glob = _gelu(sum(seq) / len(seq))
        for j in range(frames // 2):
            frame = None
            if layer.use_frame:  # Eq. 11
                pair = torch.cat([
                    _ln_linear_gelu_ref(layer.frame_proj, cls[2 * j]),
                    _ln_linear_gelu_ref(layer.frame_proj, cls[2 * j + 1])
                ])
                frame = _ln_linear_gelu_ref(layer.frame_fuse, pair)
            for k in range(tokens):
                a_tok, b_tok = X[b][2 * j][k], X[b][2 * j + 1][k]
                feat = torch.cat([
                    _ln_linear_gelu_ref(layer.token_proj, a_tok),
                    _ln_linear_gelu_ref(layer.token_proj, b_tok)
                ])  # Eq. 9
                context = []
                if layer.use_cube:  # Eq. 10, averaged over the pair
                    kernel = layer.cube_conv.weight[:, 0]  # (C, 3, 3, 3)
                    cube = torch.zeros(dims, dtype=x.dtype)
                    for t in (2 * j, 2 * j + 1):
                        acc = layer.cube_conv.bias.clone()
                        for dt in (-1, 0, 1):
                            if not 0 <= t + dt < frames:
                                continue
                            if k == 0:  # CLS: a 1x1 image, kernel centre
                                acc = acc + kernel[:, dt + 1, 1, 1] * \
                                    X[b][t + dt][0]
                                continue
                            row, col = divmod(k - 1, w)
                            for du in (-1, 0, 1):
                                for dv in (-1, 0, 1):
                                    r, c = row + du, col + dv
                                    if 0 <= r < h and 0 <= c < w:
                                        acc = acc + kernel[:, dt + 1, du + 1,
                                                           dv + 1] * \
                                            X[b][t + dt][1 + r * w + c]
                        cube = cube + acc / 2
                    context.append(cube)
                if frame is not None:
                    context.append(frame)
                if glob is not None:
                    context.append(glob)
                if context:  # Eq. 13: [F_token, F_cube + F_frame + F_global]
                    feat = torch.cat([feat, sum(context)])
                first, second = layer.ffn[0], layer.ffn[2]
                logits = second.weight @ _gelu(first.weight @ feat +
                                               first.bias) + second.bias
                ab = torch.exp(logits - logits.max())
                ab = ab / ab.sum()
                row = b * frames // 2 + j
                weights[row, k] = ab
                z[row, k] = ab[0] * a_tok + ab[1] * b_tok  # Eq. 7
    return z, weights


@pytest.mark.parametrize('flags', FLAGS, ids=[_flag_id(f) for f in FLAGS])
def test_layer_equals_float64_loop_reference(flags):
    layer = random_inti(**flags)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(
        RB * RT,
        1 + RGRID[0] * RGRID[1],
        RC,
        generator=gen,
        dtype=torch.float64)
    with torch.no_grad():
        expected_z, expected_w = inti_reference(layer, x, RT)
        weights = layer.pair_weights(layer.add_temporal_embedding(x, RT), RT)
        out = layer(x, RT)
    assert (weights - expected_w).abs().max() <= 1e-10
    assert (out - expected_z).abs().max() <= 1e-10
    # the reference is not trivially satisfied: weights are far from 0.5
    assert (expected_w[..., 0] - 0.5).abs().max() > 0.05


@pytest.mark.parametrize('cls', ALL)
def test_samples_do_not_mix(cls):
    """Changing sample 1 leaves sample 0's output unchanged (no statistic,
    e.g. the global context, is taken over the batch)."""
    torch.manual_seed(0)
    layer = cls(RC, 8, RGRID).double()
    with torch.no_grad():
        for param in layer.parameters():
            param.normal_(std=0.5)
    x = torch.randn(2 * 8, 7, RC, dtype=torch.float64)
    y = x.clone()
    y[8:] = torch.randn_like(y[8:])
    with torch.no_grad():
        out_x, out_y = layer(x, 8), layer(y, 8)
    assert (out_x[:4] - out_y[:4]).abs().max() <= 1e-12
    assert (out_x[4:] - out_y[4:]).abs().max() > 1e-3


def test_pair_weights_are_local_without_global_context():
    """Pair j = 1 (frames 2, 3) reads frames 1..4 only (the cube context's
    temporal kernel 3 around each frame of the pair); with the global
    context on, every frame counts."""
    frames, j = 8, 1
    x = torch.randn(2 * frames, 7, RC, dtype=torch.float64)
    outside = [t for t in range(frames) if not 2 * j - 1 <= t <= 2 * j + 2]
    y = x.clone()
    for b in range(2):
        for t in outside:
            y[b * frames + t] = torch.randn_like(y[b * frames + t])
    rows = [b * frames // 2 + j for b in range(2)]

    def weights(layer, tokens):
        with torch.no_grad():
            return layer.pair_weights(
                layer.add_temporal_embedding(tokens, frames), frames)[rows]

    local = random_inti(frames=frames, use_global=False)
    assert (weights(local, x) - weights(local, y)).abs().max() <= 1e-12
    # frame 2j - 1 is inside the window: it does change pair j
    inside = x.clone()
    inside[2 * j - 1] += 1.0
    assert (weights(local, x) - weights(local, inside)).abs().max() > 1e-6
    with_global = random_inti(frames=frames, use_global=True)
    assert (weights(with_global, x) -
            weights(with_global, y)).abs().max() > 1e-6


def _expected_inti_params(dims, frames, hidden, cube, frame, glob):
    """Parameters of one InTI layer, from the paper's structure."""

    def ln_linear(i, o):
        return 2 * i + i * o + o

    count = 1 + frames * dims + ln_linear(dims, dims // 2)  # sigma, P, Eq. 9
    if cube:
        count += 27 * dims + dims  # depth-wise 3x3x3
    if frame:
        count += ln_linear(dims, dims // 2) + ln_linear(dims, dims)
    if glob:
        count += 3 * (3 * dims + dims)  # three depth-wise conv1d k3
    ffn_in = 2 * dims if (cube or frame or glob) else dims
    return count + ffn_in * hidden + hidden + hidden * 2 + 2


@pytest.mark.parametrize('flags', FLAGS, ids=[_flag_id(f) for f in FLAGS])
@pytest.mark.parametrize('ratio', [1.0, 3.5])
def test_parameter_count_per_context_flag(flags, ratio):
    layer = InTI(64, 8, (4, 4), ffn_ratio=ratio, **flags)
    count = sum(p.numel() for p in layer.parameters())
    assert count == _expected_inti_params(64, 8, int(64 * ratio),
                                          flags['use_cube'],
                                          flags['use_frame'],
                                          flags['use_global'])


@pytest.mark.parametrize(
    'flags', [FLAGS[0], FLAGS[-1], FLAGS[5]],
    ids=['token_only', 'all', 'cube-global'])
@pytest.mark.parametrize('frames', [4, 6])
def test_exact_flops_of_one_layer(flags, frames):
    """MMEngine's counter (fvcore rules: linears, convs and layer norms
    count; element-wise ops, softmax, pooling, means do not) on one layer
    equals the count written from the paper's structure."""
    from zeroi2v_mm.utils.complexity import count_flops
    dims, grid, batch, ratio = 16, (2, 3), 2, 3.5
    tokens = 1 + grid[0] * grid[1]
    layer = InTI(dims, frames, grid, ffn_ratio=ratio, **flags)
    x = torch.randn(batch * frames, tokens, dims)
    hidden = int(dims * ratio)
    rows = batch * frames * tokens
    expected = 5 * rows * dims + rows * dims * dims // 2  # F_token
    if flags['use_cube']:  # 27 MACs per channel and token of every frame
        expected += 27 * dims * rows
    if flags['use_frame']:  # CLS of every frame, then each pair
        expected += batch * frames * (5 * dims + dims * dims // 2)
        expected += batch * frames // 2 * (5 * dims + dims * dims)
    if flags['use_global']:  # conv1d k3 at T, ceil(T/2), ceil(T/4) steps
        steps = [frames, -(-frames // 2), -(-frames // 4)]
        expected += batch * sum(3 * dims * s for s in steps)
    ffn_in = dims if flags == FLAGS[0] else 2 * dims
    expected += batch * frames // 2 * tokens * (ffn_in * hidden + hidden * 2)
    assert count_flops(layer, (x, frames)) == expected


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

    from helpers import TINY_ARCH
    compress = dict(type=kind, after_blocks=(1, ))
    if backbone == 'ZeroI2VViT':
        backbone_cfg = dict(
            type='ZeroI2VViT', arch=TINY_ARCH, num_frames=4, compress=compress)
        head = dict(type='ZeroI2VHead', num_classes=3, in_channels=64)
    else:
        backbone_cfg = dict(
            type='UniFormerV2InTI',
            input_resolution=32,
            patch_size=8,
            width=64,
            layers=2,
            heads=4,
            t_size=4,
            return_list=[1],
            n_layers=1,
            n_dim=64,
            n_head=4,
            mlp_dropout=[0.0],
            compress=compress)
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
