"""ST-Adapter (Pan et al., NeurIPS 2022), a baseline of ZeroI2V
Tables 3 and 4.

``x + W_up(DWConv3D(W_down x))`` on the patch tokens of the residual stream
(the CLS token bypasses it): a linear down-projection C -> 384, a depth-wise
3D convolution of kernel (3, 1, 1) over (time, height, width), a linear
up-projection back, no activation (as the reference code). The convolution is
zero-initialised, so the adapter starts as the identity.

Placement as in the released ST-Adapter models (linziyi96/st-adapter,
``models_adapter.py``): K400 ``clip_vit_base_patch16_adapter12x384`` has one
adapter before the MLP of every block (the default, ``positions=('mlp',)``;
the model ZeroI2V Table 4 compares; its measured cost is in
docs/en/advanced_guides/results.md); SSv2
``clip_vit_base_patch16_adapter24x384`` has two per block, before the
attention and before the MLP (``positions=('attn', 'mlp')``, 2x the extra
cost).
The convolution mixes neighbouring frames, so nothing can be merged.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .base import PEFT_METHODS, AdapterBlock, PEFTMethod


class STAdapter(nn.Module):
    """One spatio-temporal adapter on the patch tokens.

    Args:
        embed_dims (int): Width C.
        num_frames (int): Frames T of every clip.
        grid_size (tuple): Patch grid ``(h, w)``.
        channels (int, optional): Bottleneck width (default ``C // 2``:
            384 for ViT-B, the paper's setting).
        kernel_size (tuple): Depth-wise conv kernel ``(kt, kh, kw)``, odd.

    Shapes: ``(B*T, 1 + h*w, C) -> (B*T, 1 + h*w, C)``, rows (batch,
    time)-major, CLS first.
    """

    def __init__(self,
                 embed_dims: int,
                 num_frames: int,
                 grid_size: Tuple[int, int],
                 channels: Optional[int] = None,
                 kernel_size: Sequence[int] = (3, 1, 1)):
        super().__init__()
        channels = channels or embed_dims // 2
        kernel_size = tuple(int(k) for k in kernel_size)
        if len(kernel_size) != 3 or any(k % 2 == 0 for k in kernel_size):
            raise ValueError(
                f'ST-Adapter kernel_size={kernel_size}: three odd '
                'sizes (t, h, w)')
        self.num_frames = num_frames
        self.grid_size = tuple(grid_size)
        self.fc1 = nn.Linear(embed_dims, channels)
        self.conv = nn.Conv3d(
            channels,
            channels,
            kernel_size,
            padding=tuple(k // 2 for k in kernel_size),
            groups=channels)
        self.fc2 = nn.Linear(channels, embed_dims)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        rows, length, _ = x.shape
        frames = self.num_frames
        height, width = self.grid_size
        if rows % frames or length != 1 + height * width:
            raise ValueError(
                f'ST-Adapter built for {frames}-frame clips of 1 + '
                f'{height}x{width} tokens got {tuple(x.shape)}')
        batch = rows // frames
        patches = self.fc1(x[:, 1:])  # (B*T, h*w, Ca)
        channels = patches.shape[-1]
        patches = patches.view(batch, frames, height, width,
                               channels).permute(0, 4, 1, 2, 3)
        patches = self.conv(patches)  # (B, Ca, T, h, w)
        patches = patches.permute(0, 2, 3, 4,
                                  1).reshape(rows, length - 1, channels)
        return torch.cat([x[:, :1], x[:, 1:] + self.fc2(patches)], dim=1)

    def extra_repr(self) -> str:
        return f'num_frames={self.num_frames}, grid_size={self.grid_size}'


class STAdapters(nn.Module):
    """The ST-Adapters of one block, kept as ``block.peft`` by
    :class:`STAdapterBlock` (``ZeroI2VViT(peft=dict(type='STAdapter'))``).

    Args:
        embed_dims, num_frames, grid_size, channels, kernel_size: As
            :class:`STAdapter`.
        positions (sequence): ``'attn'`` (before the attention) and/or
            ``'mlp'`` (before the MLP), on the residual stream. Default
            ``('mlp',)``, the released K400 model.
    """

    def __init__(self,
                 embed_dims: int,
                 num_frames: int,
                 grid_size: Tuple[int, int],
                 channels: Optional[int] = None,
                 kernel_size: Sequence[int] = (3, 1, 1),
                 positions: Sequence[str] = ('mlp', )):
        super().__init__()
        positions = tuple(positions)
        if not positions or set(positions) - {'attn', 'mlp'}:
            raise ValueError(f'ST-Adapter positions={positions}: choose from '
                             "'attn', 'mlp'")
        kwargs = dict(channels=channels, kernel_size=kernel_size)
        self.attn_adapter = (
            STAdapter(embed_dims, num_frames, grid_size, **kwargs)
            if 'attn' in positions else None)
        self.mlp_adapter = (
            STAdapter(embed_dims, num_frames, grid_size, **kwargs)
            if 'mlp' in positions else None)


class STAdapterBlock(AdapterBlock):
    """A CLIP block with ST-Adapters on its residual stream (``self.peft``,
    an :class:`STAdapters`): ``(B*T, L, C)`` in and out."""

    def forward(self, x: Tensor) -> Tensor:
        adapters = self.peft
        if adapters.attn_adapter is not None:
            x = adapters.attn_adapter(x)
        x = x + self.drop_path(self.attn(self.ln_1(x)))
        if adapters.mlp_adapter is not None:
            x = adapters.mlp_adapter(x)
        return x + self.drop_path(self.mlp(self.ln_2(x)))


@PEFT_METHODS.register_module(name='STAdapter')
class STAdapterMethod(PEFTMethod):
    """ST-Adapter (not mergeable: the convolution mixes frames); arguments
    as :class:`STAdapters` (``channels``, ``kernel_size``, ``positions``)."""

    linears_only = False  # a Block variant of ZeroI2VViT's blocks

    def __init__(self, **cfg):
        self.cfg = cfg

    def adapt_block(self, block: nn.Module, embed_dims: int, num_frames: int,
                    grid_size: Tuple[int, int]) -> nn.Module:
        return STAdapterBlock(
            block, STAdapters(embed_dims, num_frames, grid_size, **self.cfg))
