"""InTI against the paper: an independent float64 reference of the
weight-prediction network (paper Eqs. 7-13, appendix B), written with loops
over samples, pairs and tokens, checked against the layer for every context
flag; samples do not mix; without the global context a pair reads only its
neighbourhood; parameters and FLOPs equal counts written from the paper's
structure."""
import pytest
import torch

from zeroi2v_mm.models.compressors.inti import InTI

from helpers.inti import ALL, FLAGS, RB, RC, RGRID, RT, flag_id, random_inti


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


@pytest.mark.parametrize('flags', FLAGS, ids=[flag_id(f) for f in FLAGS])
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


@pytest.mark.parametrize('flags', FLAGS, ids=[flag_id(f) for f in FLAGS])
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
