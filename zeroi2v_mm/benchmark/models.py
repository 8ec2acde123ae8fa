"""The networks a benchmark compares: a config's model as trained, its
deployed (merged) copy and the plain image ViT of the same size, plus what
describes them (method, size, test views, a signature that tells identical
networks apart)."""
import copy
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config

from mmaction.registry import MODELS

from ..models.layers import AdaptedLinear
from ..models.layers.linear_adapter import count_adapted_linears
from ..reparam import merge_adapters
from ..utils.complexity import complexity


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def backbone_cfg(model_cfg: dict) -> dict:
    return model_cfg.get('backbone', model_cfg)


def plain_model_cfg(model_cfg: dict) -> dict:
    """The plain image ViT of the same size: no STDHA, adapters, peft or
    compression, everything trainable."""
    cfg = copy.deepcopy(model_cfg)
    backbone = backbone_cfg(cfg)
    for key in ('stdha', 'adapters', 'peft', 'compress'):
        backbone[key] = None
    backbone['freeze_pretrained'] = False
    return cfg


def build_model(model_cfg: dict, device: torch.device) -> nn.Module:
    cfg = copy.deepcopy(model_cfg)
    backbone = backbone_cfg(cfg)
    if backbone.get('type') != 'ZeroI2VViT':
        raise ValueError(f"the benchmark measures ZeroI2VViT models; the "
                         f"config's backbone is {backbone.get('type')!r}")
    backbone['pretrained'] = None
    backbone.pop('init_cfg', None)
    model = MODELS.build(cfg)
    return model.to(device).eval()


def frozen_by_lr_mult(cfg: Config, model: nn.Module) -> List[str]:
    """Trainable parameters the optimizer never moves: those whose first
    matching ``paramwise_cfg.custom_keys`` entry (MMEngine's order: longest
    key first) has ``lr_mult=0``."""
    paramwise = (cfg.get('optim_wrapper') or {}).get('paramwise_cfg') or {}
    custom = paramwise.get('custom_keys') or {}
    keys = sorted(sorted(custom), key=len, reverse=True)
    frozen = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        match = next((key for key in keys if key in name), None)
        if match is not None and custom[match].get('lr_mult', 1.0) == 0:
            frozen.append(name)
    return frozen


def test_views(cfg: Config) -> int:
    """Views per clip at test time: ``num_clips`` of the frame sampler x
    crops (ThreeCrop 3, TenCrop 10, otherwise 1)."""
    pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        loader = cfg.get('test_dataloader') or {}
        pipeline = loader.get('dataset', {}).get('pipeline', [])
    clips, crops = 1, 1
    for step in pipeline or []:
        kind = step.get('type')
        if kind in ('SampleFrames', 'UniformSample', 'UniformSampleFrames',
                    'DenseSampleFrames'):
            clips = int(step.get('num_clips', 1))
        elif kind == 'ThreeCrop':
            crops = 3
        elif kind == 'TenCrop':
            crops = 10
    return clips * crops


def view_shape_of(model: nn.Module) -> Tuple[int, int, int, int]:
    backbone = getattr(model, 'backbone', model)
    size = backbone.arch['image_size']
    return (3, int(backbone.num_frames), int(size), int(size))


def describe_method(model_cfg: dict) -> str:
    backbone = backbone_cfg(model_cfg)
    parts = []
    if backbone.get('peft'):
        parts.append(backbone['peft']['type'])
    elif backbone.get('adapters'):
        parts.append(f"{backbone['adapters'].get('num_adapters', 4)} linear "
                     'adapters')
    if backbone.get('stdha'):
        parts.append('STDHA')
    if backbone.get('compress'):
        parts.append(backbone['compress']['type'])
    if not backbone.get('freeze_pretrained', True):
        parts.append('full fine-tuning')
    elif not parts:
        parts.append('frozen')
    return ' + '.join(parts)


def size_label(model: nn.Module) -> str:
    backbone = getattr(model, 'backbone', model)
    arch = backbone.arch
    return (f"width {arch['width']}, {arch['layers']} blocks, "
            f"{arch['heads']} heads, patch {arch['patch_size']}, "
            f"{arch['image_size']} px, {backbone.num_frames} frames")


def signature(model: nn.Module) -> str:
    """Equal for networks that compute the same way: module tree with each
    module's settings (``extra_repr``: shapes, heads, offsets, ...) and the
    tensor shapes. A linear that could carry adapters but has none computes
    what ``nn.Linear`` does and counts as one."""
    parts, skip = [], []
    for name, module in model.named_modules():
        if any(name.startswith(prefix) for prefix in skip):
            continue
        kind = type(module).__name__
        if isinstance(module, AdaptedLinear) and not module.mergeable:
            kind = 'Linear'
            skip.append(name + '.')
        parts.append(f'{name}:{kind}({module.extra_repr()})')
    shapes = sorted((k, tuple(v.shape), str(v.dtype))
                    for k, v in model.state_dict().items())
    return '\n'.join(parts) + repr(shapes)


def measure_static(model: nn.Module, shape: tuple) -> Dict[str, Any]:
    report = complexity(model, shape)
    return dict(
        params=report['params'],
        flops=report['flops'],
        gflops=report['gflops'])


def deployed(model: nn.Module) -> nn.Module:
    """The inference model: mergeable updates folded into the linears."""
    if count_adapted_linears(model) == 0:
        return model
    return merge_adapters(copy.deepcopy(model)).eval()
