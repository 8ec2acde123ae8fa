"""AIM: Adapting Image Models for efficient video action recognition
(Yang et al., ICLR 2023), as a baseline of ZeroI2V Table 4.

Per block, on top of the frozen image block:

* **temporal adaptation**: the block's own attention (same weights, same
  ``ln_1``) run a second time over the time axis (tokens regrouped from
  ``(b t) n d`` to ``(b n) t d``, CLS included), optionally preceded by a
  T-adapter-in with skip, followed by a T-adapter without skip, added to the
  residual stream;
* **spatial adaptation**: the ordinary attention followed by an S-adapter
  with skip;
* **joint adaptation**: an MLP-adapter without skip, parallel to the MLP,
  scaled by ``s`` (0.5).

Stochastic depth (the block's ``drop_path``) applies to the temporal branch
and the MLP-adapter branch only, as in AIM's released code; the spatial
attention + S-adapter and the MLP always run.

Adapters are :class:`~.gelu_adapter.GELUAdapter` (ratio 0.25, fc2 zero-init),
so at initialisation the model is the image model. Nothing merges: the extra
attention pass and the adapters stay at inference. Costs, ViT-B/16, 8 frames:
``num_tadapter=2`` (AIM's ViT-B setting compared in ZeroI2V Table 4: 624
GFLOPs for 8x1x3 views, 14M new parameters) gives 1.48x the image ViT's
FLOPs; ``num_tadapter=1`` (3 adapters, 11M) 1.44x (AIM's CLIP ViT-B/16: 606).
"""
from typing import Tuple

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .base import PEFT_METHODS, AdapterBlock, PEFTMethod
from .gelu_adapter import GELUAdapter


def plain_attention(attn: nn.Module, x: Tensor) -> Tensor:
    """Multi-head self-attention with the weights of ``attn`` (an
    :class:`~.stdha.STDHAttention`) but without any head relocation: every
    row of ``x`` is one independent sequence.

    Shapes: ``(N, S, C) -> (N, S, C)``.
    """
    rows, length, _ = x.shape
    heads = attn.num_heads
    q, k, v = attn.in_proj(x).view(rows, length, 3, heads,
                                   -1).permute(2, 0, 3, 1, 4).unbind(0)
    out = F.scaled_dot_product_attention(
        q, k, v, dropout_p=attn.attn_drop if attn.training else 0.0)
    return attn.out_proj(out.transpose(1, 2).reshape(rows, length, -1))


class AIMAdapters(nn.Module):
    """The adapters of one AIM block (kept as ``block.peft`` by
    :class:`AIMBlock`, whose forward uses them).

    Args:
        embed_dims (int): Width C.
        num_frames (int): Frames T the block sees.
        ratio (float): Adapter bottleneck ratio (0.25).
        scale (float): Factor s on the MLP-adapter (0.5).
        num_tadapter (int): 1: T-adapter after the temporal attention only;
            2: also a T-adapter-in (with skip) before it (AIM's ViT-B
            setting of ZeroI2V Table 4; its cost next to the paper's:
            docs/en/advanced_guides/results.md).
        dropout (float): Dropout inside the adapters.

    Shapes: ``(B*T, L, C) -> (B*T, L, C)``, rows (batch, time)-major.
    """

    def __init__(self,
                 embed_dims: int,
                 num_frames: int,
                 ratio: float = 0.25,
                 scale: float = 0.5,
                 num_tadapter: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        if num_tadapter not in (1, 2):
            raise ValueError(f'AIM num_tadapter={num_tadapter!r}: choose 1 or '
                             '2')
        self.num_frames = num_frames
        self.scale = scale
        kwargs = dict(ratio=ratio, dropout=dropout)
        self.t_adapter_in = (
            GELUAdapter(embed_dims, skip=True, **kwargs)
            if num_tadapter == 2 else None)
        self.t_adapter = GELUAdapter(embed_dims, skip=False, **kwargs)
        self.s_adapter = GELUAdapter(embed_dims, skip=True, **kwargs)
        self.mlp_adapter = GELUAdapter(
            embed_dims, skip=False, scale=scale, **kwargs)

    def temporal(self, block: nn.Module, x: Tensor) -> Tensor:
        """The temporal branch: attention over the T frames of every token
        position (CLS included), ``(B*T, L, C) -> (B*T, L, C)``."""
        rows, length, width = x.shape
        frames = self.num_frames
        batch = rows // frames
        xt = x.view(batch, frames, length,
                    width).transpose(1, 2).reshape(batch * length, frames,
                                                   width)
        xt = block.ln_1(xt)
        if self.t_adapter_in is not None:
            xt = self.t_adapter_in(xt)
        xt = self.t_adapter(plain_attention(block.attn, xt))
        return xt.view(batch, length, frames,
                       width).transpose(1, 2).reshape(rows, length, width)

    def extra_repr(self) -> str:
        return f'num_frames={self.num_frames}, scale={self.scale}'


class AIMBlock(AdapterBlock):
    """A CLIP block with AIM's three adaptations (its adapters in
    ``self.peft``, an :class:`AIMAdapters`).

    Shapes: ``(B*T, L, C) -> (B*T, L, C)``, rows (batch, time)-major.
    """

    def forward(self, x: Tensor) -> Tensor:
        adapters = self.peft
        if x.shape[0] % adapters.num_frames:
            raise ValueError(f'{x.shape[0]} token rows are not a whole number '
                             f'of {adapters.num_frames}-frame clips')
        # Stochastic depth only on the two new branches (the temporal pass
        # and the MLP-adapter), as AIM's released ViT_CLIP block: the image
        # model's own attention and MLP paths always run.
        x = x + self.drop_path(adapters.temporal(self, x))
        x = x + adapters.s_adapter(self.attn(self.ln_1(x)))
        xn = self.ln_2(x)
        return x + self.mlp(xn) + self.drop_path(adapters.mlp_adapter(xn))


@PEFT_METHODS.register_module(name='AIM')
class AIM(PEFTMethod):
    """AIM (not mergeable): every block becomes an :class:`AIMBlock`;
    arguments as :class:`AIMAdapters` (``ratio``, ``scale``,
    ``num_tadapter``, ``dropout``)."""

    linears_only = False  # a Block variant of ZeroI2VViT's blocks

    def __init__(self, **cfg):
        self.cfg = cfg

    def adapt_block(self, block: nn.Module, embed_dims: int, num_frames: int,
                    grid_size: Tuple[int, int]) -> nn.Module:
        return AIMBlock(block, AIMAdapters(embed_dims, num_frames, **self.cfg))
