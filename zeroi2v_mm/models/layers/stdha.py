"""Spatial-temporal dual-headed attention (STDHA, ZeroI2V Sec. 3.2).

Some heads of an ordinary multi-head self-attention read their keys and values
from frame ``t + dt`` instead of frame ``t``; queries stay on frame ``t``. Heads
are contiguous channel blocks of q/k/v after the in-projection, so moving a
head means moving a block of channels of k and v along time. No parameters and
no FLOPs are added: the image model's attention weights are used unchanged.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .linear_adapter import AdaptedLinear


def parse_head_offsets(offsets: Optional[Dict[int, int]], num_heads: int,
                       num_frames: int) -> List[Tuple[int, int, int]]:
    """Turn the paper's multiset ``{dt: number_of_heads}`` into head ranges.

    Temporal heads are assigned from head 0 upward in the order the mapping
    lists them; the remaining heads are spatial.

    Args:
        offsets: e.g. ``{1: 1, -1: 1}`` (ViT-B, 8 frames). None or empty for
            plain spatial attention.
        num_heads: Heads of the attention layer.
        num_frames: Frames the layer sees (after any temporal compression).

    Returns:
        list of ``(first_head, end_head, dt)``, one per offset.

    Raises:
        ValueError: naming the offending offset or count.
    """
    groups = []
    first = 0
    for dt, count in (offsets or {}).items():
        if not isinstance(dt, int) or isinstance(dt, bool):
            raise ValueError(f'STDHA offset {dt!r} is not an integer')
        if dt == 0:
            raise ValueError(
                'STDHA offset 0 listed: spatial heads are the ones not listed '
                f'in offsets={offsets}')
        if abs(dt) >= num_frames:
            raise ValueError(
                f'STDHA offset {dt} does not fit {num_frames} frames '
                f'(|offset| must be < {num_frames}); offsets={offsets}')
        if not isinstance(count, int) or count < 1:
            raise ValueError(f'STDHA offset {dt} has head count {count!r}; '
                             'it must be a positive integer')
        groups.append((first, first + count, dt))
        first += count
    if first > num_heads:
        raise ValueError(f'STDHA offsets={offsets} ask for {first} temporal '
                         f'heads but the attention has only {num_heads} heads')
    return groups


def shift_heads_in_time(x: Tensor, groups: List[Tuple[int, int, int]],
                        num_frames: int) -> Tensor:
    """Make head block ``[h0, h1)`` of frame t hold frame ``t + dt``'s values.

    A frame whose source ``t + dt`` lies outside the clip keeps its own values
    (no zero padding, no wrap-around).

    Args:
        x: ``(B*T, L, H, D_head)`` keys or values, rows (batch, time)-major.
        groups: from :func:`parse_head_offsets`.
        num_frames: T.

    Returns:
        Tensor of the same shape.
    """
    if not groups:
        return x
    rows, length, heads, head_dims = x.shape
    clip = x.view(rows // num_frames, num_frames, length, heads, head_dims)
    frames = torch.arange(num_frames, device=x.device)
    parts = []
    for first, end, dt in groups:
        source = frames + dt
        source = torch.where((source >= 0) & (source < num_frames), source,
                             frames)
        parts.append(clip[:, source, :, first:end])
    spatial_first = groups[-1][1]
    if spatial_first < heads:
        parts.append(clip[:, :, :, spatial_first:])
    return torch.cat(parts, dim=3).view(rows, length, heads, head_dims)


class STDHAttention(nn.Module):
    """Multi-head self-attention with optional STDHA head relocation.

    Parameter names follow CLIP (``in_proj`` packs Q, K, V row-wise;
    ``out_proj``), so image-model weights load unchanged.

    Args:
        embed_dims (int): Width C.
        num_heads (int): Heads H.
        num_frames (int): Frames T this layer sees; checked against offsets.
        offsets (dict | None): STDHA offsets ``{dt: heads}``; None = spatial.
        adapters (str | None): None, ``'qkv_shared'`` (one adapter before the
            in-projection, shared by Q, K, V), or ``'qkv_separate'`` (own
            adapter for each of Q, K, V). ``'out'`` adapter placement is given
            by ``adapt_out``.
        adapt_out (bool): an adapter after the out-projection.
        adapter_cfg (dict): ratio / scale / dropout of the adapters.
        attn_drop (float): attention dropout (training only).

    Shapes: ``(B*T, L, C) -> (B*T, L, C)``, rows (batch, time)-major.
    """

    def __init__(self, embed_dims: int, num_heads: int, num_frames: int,
                 offsets: Optional[Dict[int, int]] = None,
                 adapters: Optional[str] = None, adapt_out: bool = False,
                 adapter_cfg: Optional[dict] = None, attn_drop: float = 0.0):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        input_adapters = {None: 0, 'qkv_shared': 1, 'qkv_separate': 3}
        if adapters not in input_adapters:
            raise ValueError(f'unknown qkv adapter placement {adapters!r}; '
                             f'choose from {list(input_adapters)}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.num_frames = num_frames
        self.offsets = dict(offsets or {})
        self.head_groups = parse_head_offsets(self.offsets, num_heads,
                                              num_frames)
        self.attn_drop = attn_drop
        self.in_proj = AdaptedLinear(
            embed_dims, 3 * embed_dims, input_adapters=input_adapters[adapters],
            adapter_cfg=adapter_cfg)
        self.out_proj = AdaptedLinear(
            embed_dims, embed_dims, output_adapter=adapt_out,
            adapter_cfg=adapter_cfg)

    def forward(self, x: Tensor) -> Tensor:
        rows, length, _ = x.shape
        if rows % self.num_frames:
            raise ValueError(f'{rows} token rows are not a whole number of '
                             f'{self.num_frames}-frame clips')
        head_dims = self.embed_dims // self.num_heads
        q, k, v = self.in_proj(x).view(rows, length, 3, self.num_heads,
                                       head_dims).unbind(2)
        # Only keys and values move in time (paper Table 1: "HR KV").
        k = shift_heads_in_time(k, self.head_groups, self.num_frames)
        v = shift_heads_in_time(v, self.head_groups, self.num_frames)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(rows, length, self.embed_dims)
        return self.out_proj(out)

    def extra_repr(self) -> str:
        return (f'num_heads={self.num_heads}, num_frames={self.num_frames}, '
                f'offsets={self.offsets}')
