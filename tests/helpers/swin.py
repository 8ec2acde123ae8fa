"""The tiny ZeroI2VSwin of the Swin tests
(tests/models/backbones/test_swin*.py): width 32, two stages, window 4,
32-64 px, a few frames; the tiny recognizer around it, random weights,
clips, and a random mmpretrain Swin checkpoint."""
import torch
from mmengine.registry import DefaultScope
from mmpretrain.models import ImageClassifier

from mmaction.registry import MODELS

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
