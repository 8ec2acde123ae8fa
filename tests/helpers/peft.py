"""The tiny ZeroI2VViT of the comparison-method tests (ZeroI2V Tables 3 / 4,
``ZeroI2VViT(peft=...)``): every method's settings, the markers of its
parameters' names, the model, non-zero method weights, clips, and the tiny
recognizer of a baseline config."""
import glob
import os.path as osp

import torch
from mmengine.config import Config

from zeroi2v_mm.models import ZeroI2VViT

from helpers import REPO, TINY_ARCH

STDHA = dict(offsets={1: 1, -1: 1})

FRAMES = 4

METHODS = {
    'AIM':
    dict(peft=dict(type='AIM')),
    'AIM_1_tadapter':
    dict(peft=dict(type='AIM', num_tadapter=1)),
    'STAdapter':
    dict(peft=dict(type='STAdapter')),
    'STAdapter_attn_mlp':
    dict(peft=dict(type='STAdapter', positions=('attn', 'mlp'))),
    'GELUAdapter':
    dict(peft=dict(type='GELUAdapter', scale=0.5, dropout=0.1)),
    'LoRA':
    dict(peft=dict(type='LoRA', rank=4, alpha=2)),
    'LoRA_split_qkv':
    dict(peft=dict(type='LoRA', rank=4, alpha=2, split_qkv=True)),
    'TemporalHeads':
    dict(peft=dict(type='TemporalHeads')),
}

# Trainable parameters besides temporal_embedding and ln_post: name markers.
MARKERS = {
    'AIM': '.peft.',
    'STAdapter': '.peft.',
    'GELUAdapter': '.peft.',
    'LoRA': '.lora_',
    'TemporalHeads': '.head_delta_'
}


def build(options, stdha=STDHA, **kwargs):
    return ZeroI2VViT(
        arch=TINY_ARCH, num_frames=FRAMES, stdha=stdha, **options, **kwargs)


def randomize(model, names=('.peft.', '.lora_', '.head_delta_'), std=0.05):
    """Non-zero values for the method's parameters (they start at zero)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if any(marker in name for marker in names):
                param.copy_(
                    torch.randn(param.shape, generator=generator) * std)


def clips(batch=2):
    return torch.randn(
        batch, 3, FRAMES, 32, 32, generator=torch.Generator().manual_seed(1))


def tiny_recognizer_cfg(name):
    """configs/recognition/*/<name>.py with the tiny ViT (random weights)."""
    cfg = Config.fromfile(
        sorted(
            glob.glob(
                osp.join(REPO, 'configs', '**', f'{name}.py'),
                recursive=True))[0])
    cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.model.backbone.pretrained = None
    cfg.model.cls_head.in_channels = TINY_ARCH['width']
    cfg.model.backbone.num_frames = FRAMES
    return cfg
