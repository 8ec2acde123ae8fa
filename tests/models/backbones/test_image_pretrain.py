"""The image-pretraining stage: ZeroI2VImageViT trains through mmpretrain's
ImageClassifier, and its weights load into the video ZeroI2VViT through
``pretrained`` so that every frame starts with the image model's features."""
import os.path as osp

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

from zeroi2v_mm.models.backbones import ZeroI2VImageViT, ZeroI2VViT

from helpers import TINY_DEMO_ARCH, load_tool, run_cli

PRETRAIN_CONFIG = 'configs/demo/pretrain_image_synthetic.py'
VIDEO_CONFIG = 'configs/demo/zeroi2v_synthetic.py'
MEAN = [122.769, 116.74, 104.04]
STD = [68.493, 66.63, 70.321]


def build_classifier(arch):
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = dict(
        type='ImageClassifier',
        backbone=dict(type='ZeroI2VImageViT', arch=arch, act='gelu'),
        head=dict(
            type='LinearClsHead', num_classes=4, in_channels=arch['width']),
        data_preprocessor=dict(
            type='ClsDataPreprocessor',
            num_classes=4,
            mean=MEAN,
            std=STD,
            to_rgb=True))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def fake_batch(size, batch=8):
    from mmpretrain.structures import DataSample
    generator = torch.Generator().manual_seed(0)
    return dict(
        inputs=[
            torch.randint(
                0,
                256, (3, size, size),
                dtype=torch.uint8,
                generator=generator) for _ in range(batch)
        ],
        data_samples=[DataSample().set_gt_label(i % 4) for i in range(batch)])


def test_registered_in_mmpretrain():
    from mmpretrain.registry import MODELS
    assert MODELS.get('ZeroI2VImageViT') is ZeroI2VImageViT


def test_image_backbone_shapes_and_state(tiny_arch):
    model = ZeroI2VImageViT(arch=tiny_arch, act='gelu').eval()
    images = torch.randn(2, 3, 32, 32)
    (features, ) = model(images)
    assert features.shape == (2, tiny_arch['width'])
    # no temporal embedding to collide with the video model's (T, C) one
    assert 'temporal_embedding' not in model.state_dict()
    assert all(p.requires_grad for p in model.parameters())
    video_keys = set(ZeroI2VViT(arch=tiny_arch, num_frames=4).state_dict())
    assert set(model.state_dict()) == video_keys - {'temporal_embedding'}

    maps = ZeroI2VImageViT(arch=tiny_arch, output='feature_map')
    (feature_map, ) = maps(images)
    assert feature_map.shape == (2, tiny_arch['width'], 4, 4)
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
        model(torch.randn(1, 3, 2, 32, 32))


def export_classifier(classifier, tmp_path):
    """Save like MMEngine's CheckpointHook, export like the demo does."""
    checkpoint = str(tmp_path / 'epoch_1.pth')
    torch.save(
        dict(meta=dict(epoch=1), state_dict=classifier.state_dict()),
        checkpoint)
    tool = load_tool('tools/demo/export_image_backbone.py')
    out = str(tmp_path / 'pretrained_image_vit.pth')
    tool.export(checkpoint, out)
    return out


def test_train_step_then_load_into_video_backbone(tiny_arch, tmp_path):
    torch.manual_seed(0)
    classifier = build_classifier(tiny_arch)
    classifier.init_weights()
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    optim_wrapper = OptimWrapper(
        torch.optim.AdamW(classifier.parameters(), lr=1e-3))
    losses = classifier.train_step(fake_batch(32), optim_wrapper)
    assert torch.isfinite(losses['loss'])
    changed = [
        k for k, v in classifier.state_dict().items()
        if not torch.equal(v, before[k])
    ]
    assert any(k.startswith('backbone.transformer.') for k in changed)
    assert any(k.startswith('backbone.conv1.') for k in changed)

    pretrained = export_classifier(classifier, tmp_path)
    frames = 4
    video = ZeroI2VViT(
        arch=tiny_arch,
        num_frames=frames,
        act='gelu',
        pretrained=pretrained,
        adapters=dict(num_adapters=4, ratio=0.25))
    video.init_weights()
    video.eval()
    image = classifier.backbone.eval()
    assert torch.equal(video.temporal_embedding,
                       torch.zeros(frames, tiny_arch['width']))
    for key, value in image.state_dict().items():
        assert torch.equal(video.state_dict()[key], value), key

    clip = torch.randn(2, 3, frames, 32, 32)
    with torch.no_grad():
        per_frame = video(clip)[..., 0, 0]  # (N, C, T)
        (expected, ) = image(clip.transpose(1, 2).flatten(0, 1))  # (N*T, C)
    expected = expected.view(2, frames, -1).permute(0, 2, 1)
    torch.testing.assert_close(per_frame, expected, rtol=1e-5, atol=1e-5)


def test_stdha_on_static_clip_keeps_image_features(tiny_arch, tmp_path):
    """With STDHA, shifted heads read the same frame on a still clip."""
    torch.manual_seed(0)
    classifier = build_classifier(tiny_arch)
    pretrained = export_classifier(classifier, tmp_path)
    video = ZeroI2VViT(
        arch=tiny_arch,
        num_frames=4,
        act='gelu',
        pretrained=pretrained,
        stdha=dict(offsets={
            1: 1,
            -1: 1
        }))
    video.init_weights()
    image = classifier.backbone.eval()
    frame = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        per_frame = video.eval()(frame[:, :, None].expand(-1, -1, 4, -1,
                                                          -1))[..., 0, 0]
        (expected, ) = image(frame)
    torch.testing.assert_close(
        per_frame, expected[..., None].expand(-1, -1, 4), rtol=1e-5, atol=1e-5)


def test_export_rejects_non_image_checkpoints(tmp_path):
    tool = load_tool('tools/demo/export_image_backbone.py')
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'backbone.fc.weight': torch.zeros(1)}), path)
    with pytest.raises(ValueError, match='conv1.weight'):
        tool.export(path, str(tmp_path / 'out.pth'))
    with pytest.raises(FileNotFoundError):
        tool.find_checkpoint(str(tmp_path / 'missing'))


@pytest.mark.slow
def test_mim_pretrain_export_then_video_training(tmp_path):
    """The demo's chain through the CLIs, on a few 32 px images and videos."""
    from zeroi2v_mm.testing import synthetic_videos as tool
    data = str(tmp_path / 'data')
    tool.make_dataset(
        data,
        videos_per_class=1,
        val_per_class=1,
        frames=8,
        size=32,
        images_per_class=4,
        progress=False)
    pre_dir = str(tmp_path / 'pretrain')
    images = osp.join(data, 'images')
    run_cli([
        'mim', 'train', 'mmpretrain', PRETRAIN_CONFIG, '--work-dir', pre_dir,
        '--cfg-options', *TINY_DEMO_ARCH, 'model.head.in_channels=64',
        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=8',
        'val_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        f'train_dataloader.dataset.data_root={images}',
        f'val_dataloader.dataset.data_root={images}'
    ])
    pretrained = str(tmp_path / 'pretrained_image_vit.pth')
    run_cli(
        ['python', 'tools/demo/export_image_backbone.py', pre_dir, pretrained])
    assert osp.isfile(pretrained)

    from helpers import tiny_demo_overrides
    work_dir = str(tmp_path / 'video')
    log = run_cli([
        'mim', 'train', 'mmaction', VIDEO_CONFIG, '--work-dir', work_dir,
        '--cfg-options', *tiny_demo_overrides(data, work_dir, epochs=1),
        f'model.backbone.pretrained={pretrained}'
    ])
    assert f'loaded backbone weights from {pretrained}' in log
    assert 'Training finished successfully' in log
    # The exported image model is exactly the run's frozen weights, so the
    # run saves small checkpoints (SmallCheckpointHook), as the demo does.
    saved = torch.load(
        osp.join(work_dir, 'epoch_1.pth'),
        map_location='cpu',
        weights_only=False)
    assert 'frozen_weights' in saved['meta']
    assert 'backbone.conv1.weight' not in saved['state_dict']


def test_pos_embed_std_sets_the_random_positional_embedding(tiny_arch):
    from zeroi2v_mm.models.backbones import ZeroI2VImageViT
    torch.manual_seed(0)
    clip_init = ZeroI2VImageViT(arch=tiny_arch).positional_embedding
    wide = ZeroI2VImageViT(arch=tiny_arch, pos_embed_std=1.0)
    assert abs(wide.positional_embedding.std().item() - 1.0) < 0.1
    assert clip_init.std().item() < 0.3  # CLIP's width ** -0.5
    with pytest.raises(ValueError, match='pos_embed_std'):
        ZeroI2VImageViT(arch=tiny_arch, pos_embed_std=0)
