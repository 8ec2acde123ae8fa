"""InTI and its baselines inside ZeroI2VViT: shapes, validation, merging,
FLOPs and a tiny training run."""
import pytest
import torch

from mmaction.registry import MODELS
from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.reparam import merge_adapters

from helpers import (TINY_ARCH, make_tiny_videos, randomize_adapters, run_cli,
                     tiny_demo_overrides)


@pytest.mark.parametrize('kind', ['InTI', 'LinearPooling', 'ConvPooling'])
def test_compression_halves_frames_per_layer(kind):
    model = ZeroI2VViT(
        arch=TINY_ARCH,
        num_frames=8,
        compress=dict(type=kind, after_blocks=(1, 2))).eval()
    assert model.frames_per_block == [8, 4, 2]
    x = torch.randn(2, 3, 8, 32, 32)
    assert model(x).shape == (2, 64, 2, 1, 1)
    model.output = 'feature_map'
    assert model(x).shape == (2, 64, 2, 4, 4)


def test_compression_layers_train_with_frozen_image_model():
    model = ZeroI2VViT(
        arch=TINY_ARCH,
        num_frames=4,
        adapters=dict(),
        compress=dict(type='InTI', after_blocks=(1, )))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any(n.startswith('compressors.1.') for n in trainable)


def test_stdha_offsets_checked_against_compressed_frames():
    with pytest.raises(ValueError, match=r'block 1 \(4 frames\).*offset 4'):
        ZeroI2VViT(
            arch=TINY_ARCH,
            num_frames=8,
            stdha=dict(offsets={4: 1}),
            compress=dict(type='InTI', after_blocks=(1, )))
    # the same offset is fine without compression
    ZeroI2VViT(arch=TINY_ARCH, num_frames=8, stdha=dict(offsets={4: 1}))


def test_odd_frame_count_at_a_compression_point_is_a_build_error():
    with pytest.raises(ValueError, match='3 frames is odd'):
        ZeroI2VViT(
            arch=TINY_ARCH,
            num_frames=6,
            compress=dict(type='InTI', after_blocks=(1, 2)))


def test_stdha_with_inti_matches_per_block_frame_counts():
    model = ZeroI2VViT(
        arch=TINY_ARCH,
        num_frames=8,
        stdha=dict(offsets={
            1: 1,
            -1: 1
        }),
        compress=dict(type='InTI', after_blocks=(1, )))
    frames = [block.attn.num_frames for block in model.transformer.resblocks]
    assert frames == [8, 4, 4]


@pytest.mark.parametrize('num_adapters', [4, 6])
def test_merged_equals_unmerged_with_inti(num_adapters):
    torch.manual_seed(0)
    model = ZeroI2VViT(
        arch=TINY_ARCH,
        num_frames=8,
        stdha=dict(offsets={
            1: 1,
            -1: 1
        }),
        adapters=dict(num_adapters=num_adapters, scale=0.5),
        compress=dict(type='InTI', after_blocks=(1, 2))).eval()
    randomize_adapters(model)
    for param in model.compressors.parameters():  # leave the 0.5/0.5 start
        param.data.add_(0.02 * torch.randn_like(param))
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        before = model(x)
        merge_adapters(model)
        after = model(x)
    assert (before - after).abs().max() <= 1e-5


def test_head_accepts_compressed_clips():
    recognizer = MODELS.build(
        dict(
            type='Recognizer3D',
            backbone=dict(
                type='ZeroI2VViT',
                arch=TINY_ARCH,
                num_frames=8,
                compress=dict(type='InTI', after_blocks=(1, 2))),
            cls_head=dict(
                type='ZeroI2VHead',
                num_classes=5,
                in_channels=64,
                average_clips='prob')))
    features = recognizer.backbone(torch.randn(2, 3, 8, 32, 32))
    assert features.shape == (2, 64, 2, 1, 1)
    assert recognizer.cls_head(features).shape == (2, 5)


def test_inti_5_7_flops_ratio_on_vit_b16():
    """InTI paper: 182 / 281 GFLOPs per 16-frame clip (0.648). Counted by the
    formulas of zeroi2v_mm/models/costs.py, which equal the tracing counter
    (tests/models/test_inti_costs.py; at full size,
    tools/analysis/get_flops.py on
    configs/recognition/inti/inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py
    gives the same 181.99 GFLOPs, a 30 s trace)."""
    from mmengine.config import Config

    from zeroi2v_mm.models.costs import model_costs

    from helpers import REPO
    model = Config.fromfile(
        f'{REPO}/configs/recognition/inti/'
        'inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py').model.to_dict()
    compressed = model_costs(model)['gflops']
    model['backbone']['compress'] = None
    naive = model_costs(model)['gflops']
    assert abs(naive - 281) / 281 < 0.005
    assert compressed / naive <= 0.66, compressed / naive
    assert abs(compressed - 182) / 182 < 0.01


@pytest.mark.slow
@pytest.mark.parametrize('config', [
    'configs/demo/inti_synthetic.py', 'configs/demo/zeroi2v_inti_synthetic.py'
])
def test_tiny_training_run_with_inti(tmp_path, config):
    data = make_tiny_videos(tmp_path / 'data')
    work_dir = str(tmp_path / 'work')
    # 8 frames, InTI after block 1 of 2 (the tiny override has 2 layers)
    options = tiny_demo_overrides(data, work_dir, epochs=1)
    options.append('model.backbone.compress.after_blocks=(1,)')
    log = run_cli([
        'python', 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', *options
    ])
    assert 'Epoch(val) [1]' in log


def test_input_temporal_embedding_can_be_switched_off():
    """The InTI paper's naive and InTI models add no temporal embedding to
    the input (only InTI's own sigma * P)."""
    torch.manual_seed(0)
    with_emb = ZeroI2VViT(arch=TINY_ARCH, num_frames=4).eval()
    without = ZeroI2VViT(
        arch=TINY_ARCH, num_frames=4, temporal_embedding=False).eval()
    assert 'temporal_embedding' not in dict(without.named_parameters())
    assert sum(p.numel() for p in with_emb.parameters()) - sum(
        p.numel() for p in without.parameters()) == 4 * 64
    without.load_state_dict({
        k: v
        for k, v in with_emb.state_dict().items() if k != 'temporal_embedding'
    })
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        with_emb.temporal_embedding.normal_()
        assert (with_emb(x) - without(x)).abs().max() > 1e-3
        with_emb.temporal_embedding.zero_()
        torch.testing.assert_close(with_emb(x), without(x))
