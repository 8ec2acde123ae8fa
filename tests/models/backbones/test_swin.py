"""ZeroI2VSwin: a 2D Swin over video with STDHA in its window attention.

Tiny Swins (tests/helpers/swin.py: width 32, two stages, window 4, 32-64 px,
a few frames) against a loop reference of window attention and
mmpretrain's own SwinTransformer, and its checkpoint checks. Adapters and
merging: test_swin_adapters.py; the paper's Table 14 counts:
test_swin_costs.py.
"""
import pytest
import torch
from mmpretrain.models import SwinTransformer

import zeroi2v_mm.models.backbones.zeroi2v_swin as swin_module
from zeroi2v_mm.models.layers.stdha import parse_head_offsets
from zeroi2v_mm.utils.checkpoint import CheckpointMismatchError

from helpers.swin import (SIZE, WINDOW, build_swin, clip, randomize,
                          save_mmpretrain_classifier)


# ------------------------------------------------------------- loop reference
def relative_index(window: int) -> torch.Tensor:
    """The original Swin's relative position index, from coordinates:
    ``(dy + w - 1) * (2w - 1) + (dx + w - 1)`` for tokens i, j of a window."""
    ys, xs = torch.meshgrid(
        torch.arange(window), torch.arange(window), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + window - 1
    dx = xs[:, None] - xs[None, :] + window - 1
    return dy * (2 * window - 1) + dx


def region(coordinate: int, size: int, window: int, shift: int) -> int:
    """Which of the three bands (Swin's shifted-window mask) a coordinate
    of the rolled map lies in."""
    if coordinate < size - window:
        return 0
    return 1 if coordinate < size - shift else 2


def loop_window_attention(attn, x, hw_shape, frames):
    """STDHA window attention, one window, one head, one frame at a time.

    Head h of frame t reads keys/values of frame ``t + dt`` (its frame when
    that lies outside the clip) at the same positions of the same (shifted)
    window; queries, relative position bias and the shifted-window mask are
    those of 2D Swin.
    """
    w_msa = attn.w_msa
    rows, _, channels = x.shape
    height, width = hw_shape
    window = attn.window_size
    shift = attn.shift_size if min(height, width) > window else 0
    heads = w_msa.num_heads
    dims = channels // heads
    head_dt = [0] * heads
    for first, last, dt in parse_head_offsets(w_msa.offsets, heads, frames):
        for head in range(first, last):
            head_dt[head] = dt
    qkv = w_msa.qkv(x).view(rows, height, width, 3, heads, dims)
    table = w_msa.relative_position_bias_table
    index = relative_index(window)
    out = torch.zeros(rows, height, width, heads, dims)
    for sample in range(rows // frames):
        for t in range(frames):
            for wy in range(height // window):
                for wx in range(width // window):
                    # rolled coordinates of the window's tokens and where
                    # they come from in the map
                    rolled = [(wy * window + a, wx * window + b)
                              for a in range(window) for b in range(window)]
                    ys = [(r + shift) % height for r, _ in rolled]
                    xs = [(c + shift) % width for _, c in rolled]
                    bands = torch.tensor([
                        region(r, height, window, shift) * 3 +
                        region(c, width, window, shift) for r, c in rolled
                    ])
                    mask = torch.where(bands[:, None] == bands[None, :], 0.0,
                                       -100.0) if shift else 0.0
                    for head in range(heads):
                        source = t + head_dt[head]
                        if not 0 <= source < frames:
                            source = t
                        row = sample * frames + t
                        src = sample * frames + source
                        q = qkv[row, ys, xs, 0, head]
                        k = qkv[src, ys, xs, 1, head]
                        v = qkv[src, ys, xs, 2, head]
                        logits = (q @ k.T) * dims**-0.5 + table[index, head] \
                            + mask
                        out[row, ys, xs, head] = logits.softmax(-1) @ v
    return w_msa.proj(out.reshape(rows, height * width, channels))


STAGE_OFFSETS = [
    [[(-1, 1)], [(1, 1), (-2, 1)]],
    [[(2, 1), (-1, 1)], [(-1, 1), (1, 1), (-3, 1), (3, 1)]],
]


@pytest.mark.parametrize('offsets', STAGE_OFFSETS)
@pytest.mark.parametrize('shifted', [False, True])
@pytest.mark.parametrize('path', ['eager', 'export'])
def test_window_attention_matches_loop_reference(offsets, shifted, path,
                                                 monkeypatch):
    """Both formulations: the in-place time shift (eager) and the gathers
    used under tracing / torch.export / ONNX (and by the FLOP counter)."""
    if path == 'export':
        monkeypatch.setattr(swin_module, 'is_tracing_or_exporting',
                            lambda: True)
    frames = 4
    model = build_swin(num_frames=frames, stdha=dict(offsets=offsets)).eval()
    randomize(model)
    block = model.stages[0].blocks[int(shifted)]
    assert block.attn.shift_size == (WINDOW // 2 if shifted else 0)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2 * frames, 16 * 16, 32, generator=generator)
    with torch.no_grad():
        got = block.attn(x, (16, 16))
        want = loop_window_attention(block.attn, x, (16, 16), frames)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('offsets', STAGE_OFFSETS)
def test_whole_model_matches_loop_reference(offsets, monkeypatch):
    """Every block's attention, in both stages (shifted windows, several
    offsets per stage), against the loop reference inside the full model."""
    frames = 3 if max(abs(dt) for stage in offsets for dt, _ in stage) < 3 \
        else 4
    model = build_swin(num_frames=frames, stdha=dict(offsets=offsets)).eval()
    randomize(model)
    x = clip(batch=1, frames=frames)
    with torch.no_grad():
        got = model(x)
        for stage in model.stages:
            for block in stage.blocks:
                monkeypatch.setattr(
                    block.attn,
                    'forward',
                    lambda q, hw, attn=block.attn: attn.drop(
                        loop_window_attention(attn, q, hw, frames)))
        want = model(x)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    # and the temporal heads do something: frames no longer independent
    spatial = build_swin(num_frames=frames).eval()
    spatial.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert (spatial(x) - got).abs().max() > 1e-3


def per_frame(backbone: SwinTransformer, frames: torch.Tensor):
    """``(N, 3, T, H, W)`` through the 2D Swin frame by frame ->
    ``(N, C, T, h, w)``."""
    batch = frames.shape[0]
    out = backbone(frames.transpose(1, 2).flatten(0, 1))[-1]
    return out.unflatten(0, (batch, -1)).transpose(1, 2)


@pytest.mark.parametrize('old_names', [False, True])
def test_without_offsets_equals_mmpretrain_swin_per_frame(tmp_path, old_names):
    """Loaded through ``pretrained``; also from a checkpoint with the old
    name of the output norm (``backbone.norm.*``, Swin version < 2)."""
    path = tmp_path / 'swin_classifier.pth'
    reference = save_mmpretrain_classifier(path)
    if old_names:
        checkpoint = torch.load(path, weights_only=True)
        checkpoint['state_dict'] = {
            k.replace('backbone.norm1.', 'backbone.norm.'): v
            for k, v in checkpoint['state_dict'].items()
        }
        assert 'backbone.norm.weight' in checkpoint['state_dict']
        torch.save(checkpoint, path)
    model = build_swin(pretrained=str(path))
    model.init_weights()
    model.eval()
    x = clip()
    with torch.no_grad():
        got, want = model(x), per_frame(reference, x)
    assert got.shape == (2, 64, 4, 8, 8)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_tubelet_is_the_2d_swin_on_frame_pairs(tmp_path):
    """tubelet=2: the inflated 3D patch embedding (Video Swin's inflation)
    makes the model the 2D Swin on the mean of each pair of frames."""
    path = tmp_path / 'swin_classifier.pth'
    reference = save_mmpretrain_classifier(path)
    model = build_swin(num_frames=4, tubelet=2, pretrained=str(path))
    model.init_weights()
    model.eval()
    assert model.patch_embed.projection.weight.shape == (32, 3, 2, 4, 4)
    x = clip()
    pairs = x.unflatten(2, (2, 2)).mean(3)  # (N, 3, 2, H, W)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x), per_frame(reference, pairs), atol=1e-5, rtol=1e-5)


def test_checkpoint_of_another_shape_is_refused(tmp_path):
    path = tmp_path / 'wider.pth'
    save_mmpretrain_classifier(
        path, arch=dict(embed_dims=48, depths=[2, 2], num_heads=[2, 4]))
    model = build_swin(pretrained=str(path))
    with pytest.raises(
            CheckpointMismatchError,
            match=r'patch_embed\.projection\.weight: checkpoint '
            r'\(48, 3, 4, 4\) vs model \(32, 3, 4, 4\)'):
        model.init_weights()


def test_other_window_size_is_refused(tmp_path):
    path = tmp_path / 'window8.pth'
    save_mmpretrain_classifier(path, window=8)
    model = build_swin(pretrained=str(path))
    with pytest.raises(
            CheckpointMismatchError, match='relative_position_bias_table'):
        model.init_weights()


def test_missing_pretrained_file_is_an_error_only_when_training_starts(
        tmp_path):
    missing = tmp_path / 'swin-base_in21k.pth'
    model = build_swin(pretrained=str(missing))  # building needs no file
    with pytest.raises(FileNotFoundError, match=f'not found: {missing}'):
        model.init_weights()


def test_not_a_swin_checkpoint_is_refused(tmp_path):
    path = tmp_path / 'vit.pth'
    torch.save({'conv1.weight': torch.zeros(8, 3, 4, 4)}, path)
    with pytest.raises(ValueError, match='not a Swin checkpoint'):
        build_swin(pretrained=str(path)).init_weights()


def test_bad_stdha_settings_are_refused():
    with pytest.raises(ValueError, match='one entry per stage'):
        build_swin(stdha=dict(offsets=[[(-1, 1)]]))
    with pytest.raises(ValueError, match='stage 0 .* 2 heads'):
        build_swin(stdha=dict(offsets=[[(-1, 2), (1, 1)], None]))
    with pytest.raises(ValueError, match=r'stage 1 .*2 frames.*offset 2'):
        build_swin(tubelet=2, stdha=dict(offsets=[None, [(2, 1)]]))
    with pytest.raises(ValueError, match='tubelet'):
        build_swin(num_frames=5, tubelet=2)


def test_input_checks():
    model = build_swin()
    with pytest.raises(ValueError, match='num_frames=4'):
        model(clip(frames=3))
    with pytest.raises(ValueError, match=r'\(N, 3, T, H, W\)'):
        model(torch.zeros(1, 3, SIZE, SIZE))
