"""Fold linear adapters into the frozen linears (structural reparameterisation).

After :func:`merge_adapters` a ZeroI2V model is literally the plain model of
the same config with ``adapters=None``: same modules, same parameter names and
shapes, same FLOPs.
"""
import torch.nn as nn

from .models.layers.linear_adapter import AdaptedLinear


def count_adapted_linears(model: nn.Module) -> int:
    """How many linears in ``model`` still carry adapters."""
    return sum(isinstance(m, AdaptedLinear) and m.has_adapters
               for m in model.modules())


def merge_adapters(model: nn.Module) -> nn.Module:
    """Replace, in place, every adapted linear by its folded ``nn.Linear``.

    Dropout inside adapters only acts in training, so the merged model equals
    the unmerged one in eval mode. Returns ``model``.
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, AdaptedLinear) and child.has_adapters:
                setattr(module, name, child.folded())
    for module in model.modules():
        if hasattr(module, 'adapter_cfg'):  # ZeroI2VViT: now adapter-free
            module.adapter_cfg = None
    return model
