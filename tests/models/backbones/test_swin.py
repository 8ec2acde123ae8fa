"""ZeroI2VSwin: a 2D Swin over video with STDHA in its window attention.

Tiny Swins (width 32, two stages, window 4, 32-64 px, a few frames) against
a loop reference of window attention, mmpretrain's own SwinTransformer, the
merge, and checkpoint checks.
"""
import json

import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.models import ImageClassifier, SwinTransformer

import zeroi2v_mm.models.backbones.zeroi2v_swin as swin_module
from mmaction.registry import MODELS
from zeroi2v_mm.models.layers.stdha import parse_head_offsets
from zeroi2v_mm.reparam import (build_plain_model, check_same_structure,
                                merge_and_verify)
from zeroi2v_mm.utils.checkpoint import CheckpointMismatchError
from zeroi2v_mm.utils.complexity import count_parameters, count_view_flops

ARCH = dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4])
# stage 0: 16x16 map, 16 windows of 4x4, shifted in its second block;
# stage 1: 8x8 map, 4 windows, shifted in its second block.
SIZE, WINDOW = 64, 4


def build_swin(**kwargs):
    cfg = dict(
        type='ZeroI2VSwin',
        arch=ARCH,
        num_frames=4,
        img_size=SIZE,
        window_size=WINDOW)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def swin_recognizer_cfg(**backbone) -> dict:
    """A tiny ZeroI2V Swin recognizer config (4 frames, 32 px, 5 classes);
    ``backbone`` adds to or replaces its backbone settings."""
    return dict(
        type='Recognizer3D',
        backbone=dict(
            dict(
                type='ZeroI2VSwin',
                arch=ARCH,
                num_frames=4,
                img_size=32,
                window_size=4,
                stdha=dict(offsets=[[(-1, 1)], [(1, 1)]])), **backbone),
        cls_head=dict(type='ZeroI2VHead', num_classes=5, in_channels=64),
        data_preprocessor=dict(
            type='ActionDataPreprocessor', format_shape='NCTHW'))


def randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Every parameter random (the relative position bias tables and the
    adapters' up-projections too, which start at zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)


def clip(batch=2, frames=4, size=SIZE, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, frames, size, size, generator=generator)


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


# ------------------------------------------------- mmpretrain Swin, pretrained
def save_mmpretrain_classifier(path, arch=ARCH, window=WINDOW, seed=0):
    """A random mmpretrain ImageClassifier with a Swin backbone, saved as
    an MMEngine checkpoint (``state_dict`` with ``backbone.*`` keys)."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = ImageClassifier(
            backbone=dict(
                type='SwinTransformer',
                arch=arch,
                img_size=SIZE,
                window_size=window,
                drop_path_rate=0.0,
                out_indices=(len(arch['depths']) - 1, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=7,
                in_channels=arch['embed_dims'] * 2**(len(arch['depths']) - 1)))
    randomize(classifier, seed)
    torch.save(
        dict(state_dict=classifier.state_dict(), meta=dict(note='test')), path)
    classifier.eval()
    return classifier.backbone


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


# ------------------------------------------------------------------ adapters
def test_frozen_model_trains_adapters_and_output_norm_only():
    model = build_swin(adapters=dict(ratio=0.25), temporal_embedding=True)
    trainable = {
        name
        for name, p in model.named_parameters() if p.requires_grad
    }
    assert 'temporal_embedding' in trainable
    assert {'norm1.weight', 'norm1.bias'} <= trainable  # the output norm
    others = trainable - {'temporal_embedding', 'norm1.weight', 'norm1.bias'}
    assert others and all('_adapter' in name for name in others)
    # 4 adapted linears per block, 4 blocks, each adapter down+up with bias
    assert len([n for n in others if n.endswith('down.weight')]) == 16
    # the adapted linears hold the pretrained weights themselves
    qkv = model.stages[0].blocks[0].attn.w_msa.qkv
    assert not qkv.weight.requires_grad and qkv.mergeable


@pytest.mark.parametrize('with_cp', [False, True])
def test_training_step_reaches_adapters_only(with_cp):
    """Gradients reach the adapters, the temporal embedding and the output
    norm, through STDHA's in-place time shift (and gradient checkpointing);
    the frozen Swin gets none."""
    model = build_swin(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1), (-1, 1)]]),
        adapters=dict(scale=1.0),
        temporal_embedding=True,
        with_cp=with_cp,
        img_size=32)
    randomize(model)  # (values only: the Swin stays frozen)
    model.train()
    model(clip(size=32)).square().mean().backward()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name


def test_gradient_checkpointing_changes_nothing():
    torch.manual_seed(0)
    plain = build_swin(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1)]]),
        adapters=dict(scale=1.0),
        img_size=32)
    randomize(plain)
    checkpointed = build_swin(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1)]]),
        adapters=dict(scale=1.0),
        img_size=32,
        with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    grads = []
    for model in (plain, checkpointed):
        model.eval()  # no dropout: both runs see the same function
        model(clip(size=32)).sum().backward()
        grads.append({
            n: p.grad
            for n, p in model.named_parameters() if p.requires_grad
        })
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name])


def test_merge_is_exact_and_gives_the_plain_swin():
    cfg = dict(
        type='ZeroI2VSwin',
        arch=ARCH,
        num_frames=4,
        img_size=SIZE,
        window_size=WINDOW,
        tubelet=2,
        stdha=dict(offsets=[[(-1, 1)], [(-1, 1), (1, 1)]]),
        adapters=dict(ratio=0.25, scale=0.5, dropout=0.1))
    model = MODELS.build(cfg)
    randomize(model)
    plain = build_plain_model(cfg)
    batches = [clip(seed=seed) for seed in (1, 2)]
    merged, report = merge_and_verify(
        model,
        batches,
        tolerance=1e-5,
        plain=plain,
        input_shape=(3, 4, SIZE, SIZE))
    assert report['passed'] and report['max_abs_diff'] <= 1e-5
    assert report['adapted_linears_before'] == 16
    assert report['adapted_linears_after'] == 0
    check_same_structure(merged, plain)
    assert count_parameters(merged) == count_parameters(plain)
    assert report['params']['after'] == report['params']['plain']
    assert report['params']['before'] > report['params']['after']
    assert report['gflops_per_view']['after'] < report['gflops_per_view'][
        'before']
    assert count_view_flops(merged) == count_view_flops(plain)
    # the merged state dict loads into the plain model, which agrees
    plain.load_state_dict(merged.state_dict())
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(batches[0]), merged(batches[0]))


def test_flops_per_frame_times_frames_is_the_clip_count():
    """STDHA adds no FLOPs and every frame costs the same, so a clip count
    is the count of one frame (one tubelet) times the frames: what the
    Table 14 test uses to count Swin-B at 32x224x224 quickly."""
    offsets = dict(offsets=[[(-1, 1)], [(-1, 1), (1, 1)]])
    for tubelet in (1, 2):
        clip_model = build_swin(
            num_frames=4 * tubelet, tubelet=tubelet, stdha=offsets)
        one = build_swin(num_frames=tubelet, tubelet=tubelet)
        per_clip = count_view_flops(clip_model)
        assert per_clip == 4 * count_view_flops(one)
        assert per_clip > 0


def test_input_checks():
    model = build_swin()
    with pytest.raises(ValueError, match='num_frames=4'):
        model(clip(frames=3))
    with pytest.raises(ValueError, match=r'\(N, 3, T, H, W\)'):
        model(torch.zeros(1, 3, SIZE, SIZE))


# ------------------------------------------------- paper Table 14 configs
TABLE14 = ('configs/recognition/zeroi2v/'
           '{}_swin-base-p4-w7-in21k_u32-{}_sthv2-rgb.py')
ZEROI2V_SWIN = TABLE14.format('zeroi2v', '50e')
STDHA_FINETUNE = TABLE14.format('stdha-finetune', '60e')


def one_tubelet_model(path):
    """The config's recognizer for one tubelet (2 frames, so no STDHA:
    it adds no parameters and no FLOPs, and every tubelet costs the same,
    see test_flops_per_frame_times_frames_is_the_clip_count), no weights."""
    import os.path as osp

    from mmengine.config import Config

    from helpers import REPO
    cfg = Config.fromfile(osp.join(REPO, path))
    backbone = cfg.model.backbone
    assert (backbone.num_frames, backbone.tubelet) == (32, 2)
    assert len(backbone.stdha.offsets) == 4
    backbone.update(num_frames=2, stdha=None, pretrained=None)
    return MODELS.build(cfg.model).eval()


def test_table14_zeroi2v_swin_parameters():
    """Paper Table 14, ZeroI2V Swin-B: 14M tunable; without its adapters
    (what merging leaves: test_merge_is_exact_and_gives_the_plain_swin
    shows it on a tiny Swin; folding Swin-B's 96 linears in float64 takes
    ~20 s on 2 CPU cores) the plain Swin-B (+ a 174-class head), i.e. the
    network of the full fine-tuning row, whose FLOPs the next test counts."""
    model = one_tubelet_model(ZEROI2V_SWIN)
    tunable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert tunable == 14_199_726
    assert abs(tunable / 14e6 - 1) < 0.02
    adapters = sum(p.numel() for name, p in model.named_parameters()
                   if '_adapter' in name)
    # mmpretrain's 2D Swin-B (86,743,224) + the second time step of the
    # (2, 4, 4) patch kernel (6,144) + the head (178,350). The paper's 89M
    # is 2.3 % more: Video Swin-B's count (its 3D relative position tables),
    # not that of a 2D Swin-B; see docs/en/user_guides/configs.md.
    assert count_parameters(model) - adapters == 86_927_718


def test_table14_full_finetuning_parameters_and_flops():
    """Swin-B w/ STDHA, fully fine-tuned: everything trains, the merged
    ZeroI2V network; 741 GFLOPs for 32x3x1 views (paper, both rows)."""
    model = one_tubelet_model(STDHA_FINETUNE)
    assert all(p.requires_grad for p in model.parameters())
    assert count_parameters(model) == 86_927_718
    # one tubelet: 15.486 GFLOPs; x 16 tubelets x 3 views = 743.3
    gflops = count_view_flops(model) * 16 * 3 / 1e9
    assert abs(gflops / 741 - 1) < 0.02, gflops


def test_merge_tool_writes_the_plain_swin(tmp_path):
    """tools/merge_adapters.py on a tiny ZeroI2V Swin recognizer: the merged
    checkpoint loads strictly into the config's plain model (adapters=None),
    which gives the unmerged model's logits."""
    from mmengine.config import Config

    from helpers import load_tool
    model_cfg = swin_recognizer_cfg(
        tubelet=2, adapters=dict(ratio=0.25, scale=0.5, dropout=0.1))
    config = tmp_path / 'swin_tiny.py'
    Config(dict(model=model_cfg, custom_imports=dict(
        imports=['zeroi2v_mm']))).dump(str(config))
    model = MODELS.build(model_cfg).eval()
    randomize(model)
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    out = tmp_path / 'merged.pth'
    tool = load_tool('tools/merge_adapters.py')
    assert tool.main([
        str(config),
        str(checkpoint), '--out',
        str(out), '--verify', '0', '--device', 'cpu'
    ]) == 0
    plain = build_plain_model(model_cfg).eval()
    state = torch.load(out, map_location='cpu', weights_only=True)
    plain.load_state_dict(state['state_dict'], strict=True)
    assert count_parameters(plain) < count_parameters(model)
    inputs = clip(batch=2, size=32)[:, None]  # (N, views, 3, T, H, W)
    with torch.no_grad():
        want = model.cls_head(model.extract_feat(inputs, test_mode=True)[0])
        got = plain.cls_head(plain.extract_feat(inputs, test_mode=True)[0])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_merge_hook_writes_the_plain_swin(tmp_path):
    """MergeAdaptersHook.merge on a runner holding a tiny ZeroI2V Swin
    recognizer: verified on a batch, written, loadable into the plain
    model."""
    import types

    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from zeroi2v_mm.engine.hooks import MergeAdaptersHook
    model_cfg = swin_recognizer_cfg(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1), (-1, 1)]]),
        adapters=dict(ratio=0.25, scale=1.0))
    model = MODELS.build(model_cfg).eval()
    randomize(model)
    runner = types.SimpleNamespace(
        model=model,
        cfg=Config(dict(model=model_cfg)),
        work_dir=str(tmp_path),
        epoch=1,
        iter=1,
        logger=MMLogger.get_instance('swin_merge_hook'),
        val_loop=types.SimpleNamespace(
            dataloader=[clip(batch=2, size=32)[:, None]]))
    hook = MergeAdaptersHook(verify_batches=1, count_flops=False)
    path = hook.merge(runner)
    report = json.load(open(path[:-len('.pth')] + '.json'))
    assert report['passed'] and report['max_abs_diff'] <= 1e-5
    plain = build_plain_model(model_cfg)
    plain.load_state_dict(torch.load(path, weights_only=True)['state_dict'])


SWIN_METHODS = {
    'adapters-6': dict(adapters=dict(num_adapters=6, scale=0.5)),
    'LoRA': dict(peft=dict(type='LoRA', rank=4, split_qkv=True)),
    'SSF': dict(peft=dict(type='SSF')),
}


@pytest.mark.parametrize('method', sorted(SWIN_METHODS))
def test_linear_methods_on_swin_merge_save_small_and_export(method, tmp_path):
    """The ViT's linear-only methods through the same PEFTMethod calls on
    Swin: only their updates train; merged == unmerged (the merge tool,
    loading into the plain Swin); a small checkpoint (SmallCheckpointHook)
    completes from the image model; the ONNX export verifies."""
    from types import SimpleNamespace

    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint

    from zeroi2v_mm.engine import SmallCheckpointHook
    from zeroi2v_mm.models.layers import AdaptedLinear
    from zeroi2v_mm.utils.small_checkpoint import make_small

    from helpers import load_tool
    image = str(tmp_path / 'image.pth')
    save_mmpretrain_classifier(image)
    model_cfg = swin_recognizer_cfg(pretrained=image, **SWIN_METHODS[method])
    config = str(tmp_path / 'swin_tiny.py')
    Config(dict(model=model_cfg,
                custom_imports=dict(imports=['zeroi2v_mm']))).dump(config)
    model = MODELS.build(model_cfg)
    model.init_weights()
    backbone = model.backbone
    trained = {n for n, p in backbone.named_parameters() if p.requires_grad}
    updates = {
        f'{name}.{param_name}'
        for name, module in backbone.named_modules()
        if isinstance(module, AdaptedLinear) and module.mergeable
        for param_name, _ in module.named_parameters()
        if param_name not in ('weight', 'bias')
    }
    assert updates and trained == updates | {'norm1.weight', 'norm1.bias'}
    torch.manual_seed(3)
    for param in model.parameters():  # "training": updates leave identity
        if param.requires_grad:
            param.data.add_(torch.randn_like(param) * 0.01)
    model.eval()

    # a small checkpoint: the frozen Swin left out, completed on load
    entries = SmallCheckpointHook()._check(
        SimpleNamespace(model=model, logger=MMLogger.get_instance('swin')))
    checkpoint = dict(meta={}, state_dict=model.state_dict())
    assert make_small(checkpoint, entries) > 0
    small = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(checkpoint, small)
    fresh = MODELS.build(
        dict(model_cfg, backbone=dict(model_cfg['backbone'], pretrained=None)))
    load_checkpoint(fresh, small, map_location='cpu', strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key

    # merged by the tool from the small checkpoint: the plain Swin, same
    # logits
    out = str(tmp_path / 'merged.pth')
    assert load_tool('tools/merge_adapters.py').main(
        [config, small, '--out', out, '--verify', '0', '--device', 'cpu']) == 0
    plain = build_plain_model(model_cfg).eval()
    plain.load_state_dict(
        torch.load(out, map_location='cpu', weights_only=True)['state_dict'],
        strict=True)
    inputs = clip(batch=2, size=32)[:, None]
    with torch.no_grad():
        want = model.cls_head(model.extract_feat(inputs, test_mode=True)[0])
        got = plain.cls_head(plain.extract_feat(inputs, test_mode=True)[0])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert (want -
            model.cls_head(plain.extract_feat(
                inputs, test_mode=True)[0]).detach()).abs().max() < 1e-4

    # exported from the small checkpoint (merged there), verified
    exported = str(tmp_path / 'swin.onnx')
    tool = load_tool('tools/deployment/export_onnx.py')
    assert tool.main([config, small, '--out', exported, '--verify']) == 0


def test_block_variant_methods_are_refused_on_swin():
    with pytest.raises(ValueError, match="'AIM' needs ZeroI2VViT's blocks"):
        build_swin(peft=dict(type='AIM'))
    with pytest.raises(ValueError, match='replaces the linear adapters'):
        build_swin(adapters=dict(), peft=dict(type='LoRA'))
