"""Fold linear adapters into the frozen linears (structural reparam.).

After :func:`merge_adapters` a ZeroI2V model is literally the plain model of
the same config with ``adapters=None``: same modules, same parameter names and
shapes, same FLOPs (:func:`build_plain_model` builds that plain model and
:func:`check_same_structure` compares the two). Checking that the folded model
computes what the unfolded one does is :mod:`.verification`'s job.
"""
import copy
from typing import Any

import torch.nn as nn

from ..models.layers.linear_adapter import AdaptedLinear
from ..models.peft import PEFTMethod, check_mergeable, plain_settings


class MergeVerificationError(RuntimeError):
    """The merged model does not reproduce the unmerged one (or is not the
    plain model of the config); nothing was written."""


def merge_adapters(model: nn.Module) -> nn.Module:
    """Replace, in place, every adapted linear by its folded ``nn.Linear``.

    Dropout inside adapters only acts in training, so the merged model equals
    the unmerged one in eval mode. Returns ``model``.

    The mergeable baselines (``peft`` LoRA and TemporalHeads: AdaptedLinear
    subclasses with their own ``folded()``) fold the same way; non-mergeable
    ones (AIM, ST-Adapter, GELU adapters) are left in place.
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, AdaptedLinear) and child.mergeable:
                setattr(module, name, child.folded())
    for module in model.modules():
        method = getattr(module, 'method', None)
        if isinstance(method, PEFTMethod) and method.mergeable:
            module.method = None  # folded above: the plain model's state
    return model


def check_same_structure(merged: nn.Module, plain: nn.Module) -> None:
    """Raise unless ``merged`` has exactly the state dict keys and shapes of
    ``plain`` (the same config built with ``adapters=None``)."""
    got = {k: tuple(v.shape) for k, v in merged.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in plain.state_dict().items()}
    extra = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    reshaped = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    if extra or missing or reshaped:
        raise MergeVerificationError(
            'the merged model is not the plain model of its config '
            f'(adapters=None): extra keys {extra[:5]}, missing keys '
            f'{missing[:5]}, other shapes '
            f'{[(k, got[k], want[k]) for k in reshaped[:5]]}')


def build_plain_model(model_cfg: Any) -> nn.Module:
    """The model of ``model_cfg`` with ``backbone.adapters=None`` (and
    ``peft=None`` for the mergeable baselines), randomly
    initialised (no pretrained weights are read): what a merged checkpoint
    must load into, and the reference for its parameter count.

    Args:
        model_cfg: the ``model`` dict of a config (a recognizer with a
            ZeroI2V ``backbone``), or a backbone dict (``type='ZeroI2VViT'``).
    """
    from mmengine.config import ConfigDict

    from mmaction.registry import MODELS
    cfg = copy.deepcopy(ConfigDict(model_cfg))
    backbone = cfg.get('backbone', cfg)
    if 'adapters' not in backbone and 'peft' not in backbone:
        raise ValueError(f"model config of type {cfg.get('type')!r} has no "
                         'backbone with an adaptation method to remove')
    check_mergeable(backbone, 'build_plain_model')
    backbone.update(plain_settings(backbone))
    backbone['pretrained'] = None  # counting needs no weights file
    backbone.pop('init_cfg', None)
    return MODELS.build(cfg)
