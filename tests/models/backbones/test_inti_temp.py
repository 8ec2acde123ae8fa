"""InTI^temp: InTI / LinearPooling / ConvPooling inside MMAction2's
UniFormerV2 (``UniFormerV2InTI``), and the InTI recipes (ViFi-CLIP K400).

Tiny models: width 64, 3-4 blocks, 32 px, 8 frames.
"""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmaction.models.backbones.uniformerv2 import UniFormerV2
from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample

from helpers import REPO, tiny_uniformerv2

TINY = tiny_uniformerv2(
    layers=4, return_list=(1, 2, 3), no_lmhra=False, double_lmhra=True)


def tiny_backbone(**kwargs):
    cfg = dict(TINY)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def randomize(module, std=0.05, seed=0):
    """Replace every zero start (UniFormerV2's zero-initialised projections,
    InTI's last FFN layer) so that every parameter gets a gradient."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * std)


def test_without_compression_equals_mmaction2_uniformerv2():
    """The block loop is this package's (MMAction2's has no place for a layer
    between blocks); with compress=None it must be MMAction2's model."""
    torch.manual_seed(0)
    ours = tiny_backbone(compress=None).eval()
    randomize(ours)
    settings = {k: v for k, v in TINY.items() if k != 'type'}
    reference = UniFormerV2(**settings, clip_pretrained=False).eval()
    assert set(reference.state_dict()) == set(ours.state_dict())
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize('kind, tap', [('InTI', 'before'), ('InTI', 'after'),
                                       ('LinearPooling', 'before'),
                                       ('ConvPooling', 'after')])
def test_frames_per_block_and_global_blocks(kind, tap):
    """Blocks, local MHRA, DPE and global blocks all run on the compressed
    frame counts; the output is UniFormerV2's (N, C)."""
    model = tiny_backbone(
        compress=dict(type=kind, after_blocks=(1, 2)), global_tap=tap).eval()
    assert model.frames_per_block == [8, 4, 2, 2]
    seen = {'block': [], 'lmhra': [], 'dpe': [], 'global': []}
    trans = model.transformer
    for block in trans.resblocks:
        block.register_forward_pre_hook(
            lambda m, args: seen['block'].append(args[1]))
        block.lmhra1.register_forward_pre_hook(
            lambda m, args: seen['lmhra'].append(args[0].shape[2]))
    for dpe in trans.dpe:
        dpe.register_forward_pre_hook(
            lambda m, args: seen['dpe'].append(args[0].shape[2]))
    for dec in trans.dec:  # keys/values: T * (1 + h*w) tokens
        dec.register_forward_pre_hook(
            lambda m, args: seen['global'].append(args[1].shape[0] // 17))
    out = model(torch.randn(2, 3, 8, 32, 32))
    assert out.shape == (2, 64)
    assert seen['block'] == [8, 4, 2, 2]
    assert seen['lmhra'] == [8, 4, 2, 2]
    # block 2 (index 1) is followed by the second compression layer
    taps = [4, 2, 2] if tap == 'before' else [2, 2, 2]
    assert seen['dpe'] == taps and seen['global'] == taps


def test_gradients_reach_inti_and_uniformerv2_modules():
    model = tiny_backbone(compress=dict(type='InTI', after_blocks=(1, 2)))
    randomize(model)
    out = model(torch.randn(2, 3, 8, 32, 32))
    (out * torch.randn_like(out)).sum().backward()
    missing = [
        name for name, param in model.named_parameters()
        if param.grad is None or not param.grad.abs().sum() > 0
    ]
    assert missing == []
    names = [name for name, _ in model.named_parameters()]
    for part in ('compressors.1.ffn', 'compressors.2.sigma', 'lmhra1',
                 'lmhra2', 'transformer.dpe', 'transformer.dec',
                 'temporal_cls_token', 'balance', 'resblocks.3.attn'):
        assert any(part in name for name in names), part


def test_build_and_input_errors_name_the_value():
    with pytest.raises(ValueError, match='after_blocks=.*4 is not between'):
        tiny_backbone(compress=dict(type='InTI', after_blocks=(4, )))
    with pytest.raises(ValueError, match='3 frames is odd'):
        tiny_backbone(
            t_size=6, compress=dict(type='InTI', after_blocks=(1, 2)))
    with pytest.raises(ValueError, match='global_tap'):
        tiny_backbone(global_tap='middle')
    model = tiny_backbone(compress=dict(type='InTI', after_blocks=(1, )))
    with pytest.raises(ValueError, match='input has 4 frames.*t_size=8'):
        model(torch.randn(1, 3, 4, 32, 32))
    with pytest.raises(FileNotFoundError, match='no/such/clip.pt'):
        tiny_backbone(pretrained='no/such/clip.pt')


def _open_clip_visual(tmp_path):
    from open_clip.transformer import VisionTransformer
    torch.manual_seed(1)
    visual = VisionTransformer(
        image_size=32,
        patch_size=8,
        width=64,
        layers=4,
        heads=4,
        mlp_ratio=4.0,
        output_dim=32)
    path = str(tmp_path / 'clip_visual.pth')
    torch.save({
        'visual.' + k: v
        for k, v in visual.state_dict().items()
    }, path)
    return visual, path


def test_loads_local_clip_weights_and_keeps_the_pair_average(tmp_path):
    """CLIP weights from a local file (the patch embedding inflated to 3D);
    the compression layers keep their start even under a recognizer-level
    init_cfg, which UniFormerV2 skips when it loads CLIP weights."""
    visual, path = _open_clip_visual(tmp_path)
    recognizer = MODELS.build(
        dict(
            type='Recognizer3D',
            backbone=dict(
                TINY,
                type='UniFormerV2InTI',
                pretrained=path,
                compress=dict(type='InTI', after_blocks=(1, ))),
            cls_head=dict(type='UniFormerHead', num_classes=3,
                          in_channels=64)))
    recognizer.init_cfg = dict(type='TruncNormal', layer='Linear', std=0.5)
    recognizer.init_weights()
    backbone = recognizer.backbone
    assert backbone.clip_pretrained
    own = backbone.state_dict()
    for key, value in visual.state_dict().items():
        if key in ('proj', ) or key.startswith('ln_post'):
            continue
        if key == 'conv1.weight':  # (C, 3, p, p) -> (C, 3, 1, p, p)
            torch.testing.assert_close(own[key][:, :, 0], value)
            continue
        torch.testing.assert_close(own[key], value, msg=key)
    layer = backbone.compressors['1']
    x = torch.randn(2 * 8, 17, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            layer(x, 8),
            x.reshape(8, 2, 17, 64).mean(1))


def test_refuses_weights_of_another_size(tmp_path):
    _, path = _open_clip_visual(tmp_path)
    model = tiny_backbone(
        width=32, n_dim=32, heads=2, n_head=2, pretrained=path)
    with pytest.raises(ValueError, match='shape mismatch for'):
        model.init_weights()


# ----------------------------------------------------------------- configs
INTI_CONFIGS = sorted(
    osp.relpath(p, REPO) for p in glob.glob(
        osp.join(REPO, 'configs', 'recognition', 'inti', '*.py')))


@pytest.mark.parametrize('path', INTI_CONFIGS)
def test_config_pipelines_sample_the_backbone_frames(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    backbone = cfg.model.backbone
    frames = backbone.get('t_size', backbone.get('num_frames'))
    assert frames == 16
    for split in ('train', 'val', 'test'):
        steps = cfg[f'{split}_dataloader'].dataset.pipeline
        samplers = [s for s in steps if s['type'] == 'UniformSample']
        assert [s['clip_len'] for s in samplers] == [16], (path, split)
    # InTI_{i,j}: after blocks i, j (ViT-B) or 2i, 2j (ViT-L)
    after = tuple(backbone.compress.after_blocks)
    large = 'vit-large' in path
    assert after == ((10, 14) if large else (5, 7))


def test_vifi_clip_recipe():
    """configs/recognition/inti/inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py
    and the InTI^temp config: ViFi-CLIP's
    fully-supervised K400 setting (InTI paper, appendix)."""
    for path in ('configs/recognition/inti/'
                 'inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py',
                 'configs/recognition/inti/'
                 'inti-temp_clip-vit-base-p16_u16-30e_kinetics400-rgb.py'):
        cfg = Config.fromfile(osp.join(REPO, path))
        optim = cfg.optim_wrapper
        assert optim.optimizer.type == 'AdamW'
        assert optim.optimizer.lr == 2.2e-5
        assert tuple(optim.optimizer.betas) == (0.9, 0.98)
        assert optim.optimizer.weight_decay == 0.001
        # effective batch 512: 8 GPUs x 8 clips x 8 accumulation steps;
        # MMEngine's --auto-scale-lr compares GPUs x batch_size per step
        assert 8 * cfg.train_dataloader.batch_size * \
            optim.accumulative_counts == 512
        assert cfg.auto_scale_lr.base_batch_size == \
            8 * cfg.train_dataloader.batch_size
        assert cfg.train_cfg.max_epochs == 30
        warmup, cosine = cfg.param_scheduler
        assert (warmup.type, warmup.end) == ('LinearLR', 5)
        assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR',
                                                           5, 30)
        assert cfg.model.cls_head.label_smooth_eps == 0.1
        blending = cfg.model.data_preprocessor.blending
        assert [(a.type, a.alpha)
                for a in blending.augments] == [('MixupBlending', 0.8),
                                                ('CutmixBlending', 1.0)]
        backbone = cfg.model.backbone
        assert backbone.get('drop_path_rate', 0) == 0
        assert backbone.get('backbone_drop_path_rate', 0) == 0
        test = cfg.test_dataloader.dataset.pipeline
        assert [s for s in test
                if s['type'] == 'UniformSample'][0]['num_clips'] == 4
        assert any(s['type'] == 'ThreeCrop' for s in test)
    plain = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/inti/'
            'inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py'))
    assert plain.model.backbone.temporal_embedding is False


def test_vifi_clip_train_pipeline_runs():
    """The train pipeline (MMAction2's transforms; mmcv's RandomApply around
    torchvision's ColorJitter and torchvision's grayscale through MMAction2's
    TorchVisionWrapper) runs on decoded frames and gives one 16-frame 224 px
    clip."""
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/inti/'
            'inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py'))
    steps = cfg.train_dataloader.dataset.pipeline
    decode = [s['type'] for s in steps].index('DecordDecode')
    sampler = TRANSFORMS.build(steps[1])
    transforms = [TRANSFORMS.build(s) for s in steps[decode + 1:]]
    jitter = [t for t in transforms if type(t).__name__ == 'RandomApply'][0]
    assert jitter.prob == 0.8
    inner = jitter.transforms.transforms[0]
    assert type(inner).__name__ == 'TorchVisionWrapper'
    assert type(inner.trans).__name__ == 'ColorJitter'
    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, (40, 240, 320, 3), dtype=np.uint8)
    results = sampler(dict(total_frames=40, start_index=0))
    results['imgs'] = [video[i] for i in results['frame_inds']]
    results.update(
        original_shape=(240, 320),
        img_shape=(240, 320),
        modality='RGB',
        label=1)
    frames = dict(results)
    for seed in range(1):
        np.random.seed(seed)
        torch.manual_seed(seed)
        results = dict(frames)
        for transform in transforms:
            results = transform(results)
        assert tuple(results['inputs'].shape) == (1, 3, 16, 224, 224)


def test_recipe_trains_a_tiny_inti_temp_step():
    """One loss step of the InTI^temp config's model at tiny size: Mixup or
    CutMix soft labels with label smoothing go through UniFormerHead."""
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/inti/'
            'inti-temp_clip-vit-base-p16_u16-30e_kinetics400-rgb.py'))
    model_cfg = cfg.model.to_dict()
    model_cfg['backbone'].update(TINY, pretrained=None, t_size=16)
    model_cfg['backbone']['compress']['after_blocks'] = (1, 2)
    model_cfg['cls_head']['in_channels'] = 64
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    samples = [
        ActionDataSample().set_gt_label(torch.tensor([i])) for i in (3, 7)
    ]
    data = dict(
        inputs=[
            torch.randint(0, 255, (1, 3, 16, 32, 32), dtype=torch.uint8)
            for _ in range(2)
        ],
        data_samples=samples)
    data = model.data_preprocessor(data, training=True)
    assert data['data_samples'][0].gt_label.shape == (400, )  # soft
    losses = model(**data, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.compressors['1'].ffn[-1].weight.grad.abs().sum() > 0


def test_checkpoint_of_this_backbone_keeps_its_compression_layers(tmp_path):
    """An MMEngine checkpoint of an InTI^temp recognizer as ``pretrained``:
    its trained InTI layers load (the pair-average start is set before
    loading, not after)."""
    torch.manual_seed(0)
    trained = tiny_backbone(compress=dict(type='InTI', after_blocks=(1, )))
    randomize(trained)
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(
        {
            'state_dict': {
                'backbone.' + k: v
                for k, v in trained.state_dict().items()
            },
            'meta': dict(epoch=1)
        }, path)
    model = tiny_backbone(
        compress=dict(type='InTI', after_blocks=(1, )), pretrained=path)
    model.init_weights()
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, msg=key)
