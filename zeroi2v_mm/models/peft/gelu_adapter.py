"""Bottleneck adapters with a GELU: the non-linear counterpart of the linear
adapter (ZeroI2V Table 3, "Adapter w/ GELU"), and the adapter AIM uses.

Because of the GELU these adapters cannot be folded into the frozen linears:
they stay in the deployed model and cost parameters and FLOPs.
"""
import torch.nn as nn
from torch import Tensor

from ..layers.linear_adapter import bottleneck_width
from .base import PEFT_METHODS, AdapterBlock, PEFTMethod


class GELUAdapter(nn.Module):
    """``y = x + s * fc2(dropout(gelu(fc1 x)))`` (``skip=True``) or the branch
    alone, ``y = s * fc2(dropout(gelu(fc1 x)))`` (``skip=False``).

    ``fc2`` is zero-initialised, so the adapter starts as the identity (with
    skip) or as zero (without): the adapted model starts as the image model.

    Args:
        embed_dims (int): Width C of the tokens.
        ratio (float): Bottleneck width as a fraction of C (0.25: 192 for
            ViT-B).
        scale (float): The factor s on the branch.
        dropout (float): Dropout on the bottleneck (training only).
        skip (bool): Add the input back (AIM's ``skip_connect``).

    Shapes: ``(..., C) -> (..., C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 ratio: float = 0.25,
                 scale: float = 1.0,
                 dropout: float = 0.0,
                 skip: bool = True):
        super().__init__()
        hidden = bottleneck_width(embed_dims, ratio)
        self.scale = scale
        self.skip = skip
        self.fc1 = nn.Linear(embed_dims, hidden)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, embed_dims)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        branch = self.fc2(self.dropout(self.act(self.fc1(x))))
        if self.scale != 1.0:
            branch = branch * self.scale
        return x + branch if self.skip else branch

    def extra_repr(self) -> str:
        return f'scale={self.scale}, skip={self.skip}'


class DenseGELUAdapters(nn.Module):
    """GELU adapters in ZeroI2V's dense placement (4 per block): before the
    qkv in-projection (shared by Q, K, V), after the attention
    out-projection, before MLP fc1 and after MLP fc2 — where the linear
    adapters sit, but with a GELU, so nothing can be merged.

    Kept as ``block.peft`` by :class:`GELUAdapterBlock`
    (``ZeroI2VViT(peft=dict(type='GELUAdapter'))``).

    Args:
        embed_dims (int): Width C.
        ratio, scale, dropout: As :class:`GELUAdapter`.
    """

    def __init__(self,
                 embed_dims: int,
                 ratio: float = 0.25,
                 scale: float = 1.0,
                 dropout: float = 0.0):
        super().__init__()
        kwargs = dict(ratio=ratio, scale=scale, dropout=dropout)
        self.attn_in = GELUAdapter(embed_dims, **kwargs)
        self.attn_out = GELUAdapter(embed_dims, **kwargs)
        self.mlp_in = GELUAdapter(embed_dims, **kwargs)
        self.mlp_out = GELUAdapter(embed_dims, **kwargs)


class GELUAdapterBlock(AdapterBlock):
    """A CLIP block with dense GELU adapters (``self.peft``, a
    :class:`DenseGELUAdapters`): ``(B*T, L, C)`` in and out."""

    def forward(self, x: Tensor) -> Tensor:
        adapters = self.peft
        x = x + self.drop_path(
            adapters.attn_out(self.attn(adapters.attn_in(self.ln_1(x)))))
        return x + self.drop_path(
            adapters.mlp_out(self.mlp(adapters.mlp_in(self.ln_2(x)))))


@PEFT_METHODS.register_module(name='GELUAdapter')
class GELUAdapterMethod(PEFTMethod):
    """GELU adapters in the dense placement (not mergeable); arguments as
    :class:`DenseGELUAdapters` (``ratio``, ``scale``, ``dropout``)."""

    linears_only = False  # a Block variant of ZeroI2VViT's blocks

    def __init__(self, **cfg):
        self.cfg = cfg

    def adapt_block(self, block: nn.Module, embed_dims: int, num_frames: int,
                    grid_size) -> nn.Module:
        return GELUAdapterBlock(block,
                                DenseGELUAdapters(embed_dims, **self.cfg))
