"""STDHA against a naive per-head, per-frame reference written from the
paper."""
import pytest
import torch
import torch.nn.functional as F

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.models.layers import STDHAttention, adapt_linear


def naive_stdha(x, attn, offsets, num_frames):
    """Loop over clips, frames and heads; pick each head's source frame."""
    rows, length, width = x.shape
    heads = attn.num_heads
    head_dims = width // heads
    qkv = F.linear(x, attn.in_proj.weight, attn.in_proj.bias)
    q, k, v = qkv.split(width, dim=-1)
    head_offset = []
    for dt, count in offsets.items():
        head_offset += [dt] * count
    head_offset += [0] * (heads - len(head_offset))
    out = torch.zeros_like(q)
    for clip in range(rows // num_frames):
        for t in range(num_frames):
            row = clip * num_frames + t
            for h in range(heads):
                source = t + head_offset[h]
                if not 0 <= source < num_frames:
                    source = t  # outside the clip: keep own keys/values
                src_row = clip * num_frames + source
                cols = slice(h * head_dims, (h + 1) * head_dims)
                scores = q[row, :, cols] @ k[src_row, :, cols].T
                weights = (scores / head_dims**0.5).softmax(dim=-1)
                out[row, :, cols] = weights @ v[src_row, :, cols]
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


@pytest.mark.parametrize(
    'offsets,num_frames',
    [
        ({
            1: 1,
            -1: 1
        }, 8),
        ({
            2: 1,
            -2: 1
        }, 8),
        ({
            1: 1,
            -1: 1,
            2: 1,
            -2: 1,
            3: 1
        }, 16),
        ({
            3: 2
        }, 4),
        ({
            -1: 2,
            1: 1
        }, 3),
        ({
            1: 4,
            -1: 4
        }, 4),  # every head temporal: no spatial heads left
    ])
@pytest.mark.parametrize('gather', [False, True], ids=['inplace', 'gather'])
def test_stdha_matches_naive_reference(offsets, num_frames, gather):
    """Both formulations: the eager in-place copy and the gathers that
    tracing and the exporters use."""
    torch.manual_seed(0)
    attn = STDHAttention(64, 8, num_frames, offsets=offsets).eval()
    attn.gather_relocation = gather
    for param in attn.parameters():
        torch.nn.init.normal_(param, std=0.2)
    x = torch.randn(2 * num_frames, 5, 64)
    with torch.no_grad():
        ours = attn(x)
        reference = naive_stdha(x, attn, offsets, num_frames)
    assert (ours - reference).abs().max() < 1e-5


@pytest.mark.parametrize('gather', [False, True], ids=['inplace', 'gather'])
@pytest.mark.parametrize('adapters', [None, 'qkv_shared'])
def test_stdha_gradients_match_naive_reference(adapters, gather):
    """The head relocation is an in-place copy inside the in-projection's
    output: autograd must give the naive reference's gradients for the
    input and every weight (adapters included)."""
    torch.manual_seed(0)
    offsets = {-1: 2, 1: 1}

    def wrap_linear(linear, role):
        if adapters == 'qkv_shared' and role == 'attn.in_proj':
            return adapt_linear(linear, input_adapters=1, ratio=0.25)
        return linear

    attn = STDHAttention(
        64, 8, 4, offsets=offsets, wrap_linear=wrap_linear).double()
    attn.gather_relocation = gather
    for param in attn.parameters():
        torch.nn.init.normal_(param, std=0.2)
    x = torch.randn(2 * 4, 5, 64, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2 * 4, 5, 64, dtype=torch.float64)
    (attn(x) * weight).sum().backward()
    ours = [x.grad] + [p.grad for p in attn.parameters()]
    x.grad = None
    attn.zero_grad()
    # float64 and the same in-projection (adapter included) on both sides.
    projected = attn.in_proj(x)
    reference = naive_stdha_from_qkv(projected, attn, offsets, 4)
    (reference * weight).sum().backward()
    theirs = [x.grad] + [p.grad for p in attn.parameters()]
    for got, want in zip(ours, theirs):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-8)


def naive_stdha_from_qkv(qkv, attn, offsets, num_frames):
    """:func:`naive_stdha` after the in-projection (differentiable)."""
    rows, length, _ = qkv.shape
    width, heads = attn.embed_dims, attn.num_heads
    head_dims = width // heads
    q, k, v = qkv.split(width, dim=-1)
    head_offset = []
    for dt, count in offsets.items():
        head_offset += [dt] * count
    head_offset += [0] * (heads - len(head_offset))
    rows_out = []
    for row in range(rows):
        clip, t = divmod(row, num_frames)
        cols = []
        for h in range(heads):
            source = t + head_offset[h]
            if not 0 <= source < num_frames:
                source = t
            src = clip * num_frames + source
            part = slice(h * head_dims, (h + 1) * head_dims)
            scores = q[row, :, part] @ k[src, :, part].T / head_dims**0.5
            cols.append(scores.softmax(dim=-1) @ v[src, :, part])
        rows_out.append(torch.cat(cols, dim=-1))
    return attn.out_proj(torch.stack(rows_out))


def test_stdha_mixes_frames_and_spatial_does_not():
    """Changing frame 1 changes frame 0's output only through temporal
    heads."""
    torch.manual_seed(0)
    spatial = STDHAttention(64, 8, 4).eval()
    temporal = STDHAttention(64, 8, 4, offsets={1: 1}).eval()
    temporal.load_state_dict(spatial.state_dict())
    x = torch.randn(4, 5, 64)
    y = x.clone()
    y[1] += 1.0
    with torch.no_grad():
        assert torch.equal(spatial(x)[0], spatial(y)[0])
        assert not torch.allclose(temporal(x)[0], temporal(y)[0])
        # frame 3's +1 source is outside the clip: it only sees itself
        assert torch.allclose(temporal(x)[3], temporal(y)[3])


@pytest.mark.parametrize('offsets,message', [
    ({
        8: 1
    }, 'offset 8'),
    ({
        -9: 1
    }, 'offset -9'),
    ({
        0: 2
    }, 'offset 0'),
    ({
        1: 3,
        -1: 2
    }, '5 temporal heads'),
    ({
        1: 0
    }, 'head count 0'),
])
def test_bad_offsets_raise_naming_the_value(tiny_arch, offsets, message):
    with pytest.raises(ValueError, match=message):
        ZeroI2VViT(arch=tiny_arch, num_frames=8, stdha=dict(offsets=offsets))


def test_input_with_wrong_frame_count_raises(tiny_arch):
    model = ZeroI2VViT(arch=tiny_arch, num_frames=8)
    with pytest.raises(ValueError, match='input has 4 frames.*num_frames=8'):
        model(torch.randn(1, 3, 4, 32, 32))


def test_wrong_image_size_raises(tiny_arch):
    model = ZeroI2VViT(arch=tiny_arch, num_frames=2)
    with pytest.raises(ValueError, match='patch grid'):
        model(torch.randn(1, 3, 2, 48, 48))


def test_traced_stdha_uses_the_gathers_and_matches_eager():
    """Under torch.jit.trace (what the TorchScript ONNX exporter runs) the
    layer switches to the gathers by itself: the trace must hold them
    (index_select), not the in-place copies, and compute the same."""
    torch.manual_seed(0)
    attn = STDHAttention(64, 8, 4, offsets={-1: 2, 1: 1}).eval()
    for param in attn.parameters():
        torch.nn.init.normal_(param, std=0.2)
    x = torch.randn(2 * 4, 5, 64)
    with torch.no_grad():
        traced = torch.jit.trace(attn, x, check_trace=False)
        assert 'aten::index' in str(traced.graph)  # the one gather
        assert 'copy_' not in str(traced.graph)
        torch.testing.assert_close(
            traced(torch.flip(x, [0])),
            attn(torch.flip(x, [0])),
            atol=1e-6,
            rtol=1e-6)
