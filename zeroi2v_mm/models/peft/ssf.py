"""SSF-style scale and shift: a per-channel affine map after frozen linears.

``y = gamma * (W x + b) + beta`` with ``gamma`` (ones) and ``beta`` (zeros)
trained per output channel, after the linears ``targets`` of every block
(Lian et al., "Scaling & Shifting Your Features", NeurIPS 2022, put such
maps after many operations; here only after the linears, where they fold
away). Identity at the start; after training it folds into the linear:
``W' = diag(gamma) W``, ``b' = gamma * b + beta``: mergeable, zero cost at
inference. ``ZeroI2VViT(peft=dict(type='SSF'))``.

This file is the worked example of
docs/en/advanced_guides/adding_a_method.md.
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..layers.linear_adapter import AdaptedLinear
from .base import PEFT_METHODS, PEFTMethod

ROLES = ('attn.in_proj', 'attn.out_proj', 'mlp.c_fc', 'mlp.c_proj')


class ScaleShiftLinear(AdaptedLinear):
    """A frozen ``nn.Linear`` followed by a trained per-channel scale and
    shift. ``weight`` / ``bias`` keep the plain layer's names.

    Shapes: ``(..., in_features) -> (..., out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self._add_scale_shift(None)

    def _add_scale_shift(self, device) -> None:
        self.ssf_scale = nn.Parameter(
            torch.ones(self.out_features, device=device))
        self.ssf_shift = nn.Parameter(
            torch.zeros(self.out_features, device=device))

    @classmethod
    def wrap(cls, linear: nn.Linear) -> 'ScaleShiftLinear':
        """Around ``linear``, sharing its ``weight`` and ``bias``."""
        new = cls.sharing_weights_of(linear)
        new._add_scale_shift(linear.weight.device)
        return new

    @property
    def mergeable(self) -> bool:
        return True  # merge_adapters folds it

    def update_parameters(self):
        yield self.ssf_scale
        yield self.ssf_shift

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias) * self.ssf_scale + \
            self.ssf_shift

    @torch.no_grad()
    def merged_weight_and_bias(self):
        """``(diag(gamma) W, gamma * b + beta)``, in float64."""
        scale = self.ssf_scale.double()
        bias = (
            self.bias.double()
            if self.bias is not None else torch.zeros_like(scale))
        return (scale[:, None] * self.weight.double(),
                scale * bias + self.ssf_shift.double())


@PEFT_METHODS.register_module(name='SSF')
class SSF(PEFTMethod):
    """Scale and shift after the linears ``targets`` of every block.

    Args:
        targets (sequence of str): Which linears: any of
            ``'attn.in_proj'``, ``'attn.out_proj'``, ``'mlp.c_fc'``,
            ``'mlp.c_proj'``. Defaults to all four.
    """

    mergeable = True

    def __init__(self, targets: Sequence[str] = ROLES):
        unknown = set(targets) - set(ROLES)
        if not targets or unknown:
            raise ValueError(f'SSF targets={tuple(targets)}: choose from '
                             f'{ROLES}')
        self.targets = tuple(targets)

    def wrap_linear(self, linear: nn.Linear, role: str) -> nn.Module:
        if role not in self.targets:
            return linear
        return ScaleShiftLinear.wrap(linear)
