"""Spatial-temporal dual-headed attention (STDHA, ZeroI2V Sec. 3.2).

Some heads of an ordinary multi-head self-attention read their keys and values
from frame ``t + dt`` instead of frame ``t``; queries stay on frame ``t``.
Heads
are contiguous channel blocks of q/k/v after the in-projection, so moving a
head means moving a block of channels of k and v along time. No parameters and
no FLOPs are added: the image model's attention weights are used unchanged.
"""
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def is_tracing_or_exporting() -> bool:
    """Whether the forward is being traced (``torch.jit.trace``, the
    TorchScript ONNX exporter) or captured (``torch.export``, the dynamo ONNX
    exporter, ``torch.compile``)."""
    return (torch.jit.is_tracing() or torch.jit.is_scripting()
            or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export())


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


def source_frames(groups: List[Tuple[int, int, int]],
                  num_frames: int) -> List[Tensor]:
    """Per head group, the frame each frame reads: ``t + dt`` when it lies
    in the clip, else ``t`` itself (no zero padding, no wrap-around).

    Args:
        groups: from :func:`parse_head_offsets`.
        num_frames: T.

    Returns:
        list of ``(T,)`` int64 tensors, one per group.
    """
    frames = torch.arange(num_frames)
    return [
        torch.where((frames + dt >= 0) & (frames + dt < num_frames),
                    frames + dt, frames) for _, _, dt in groups
    ]


def relocate_heads(x: Tensor, groups: List[Tuple[int, int,
                                                 int]], sources: List[Tensor],
                   num_heads: int, frame_dim: int, head_dim: int) -> Tensor:
    """Make head block ``[h0, h1)`` of frame t hold frame ``sources[t]``'s
    values (out of place), on a tensor with frames on their own dim.

    One split of the heads into the head groups and the spatial heads, one
    gather along time per group with its precomputed index, one concat:
    plain tensor operations that autograd, TorchScript, ``torch.export`` and
    both ONNX exporters keep as they are (an in-place slice copy is dropped
    by the TorchScript ONNX exporter and becomes ScatterND nodes in the
    dynamo one): ``groups + 2`` graph nodes.

    Args:
        x: e.g. ``(2, B, T, H, L, D)`` keys and values; T at ``frame_dim``,
            ``num_heads`` heads at ``head_dim``.
        groups: from :func:`parse_head_offsets` (contiguous from head 0).
        sources: from :func:`source_frames`, on ``x``'s device.
        num_heads: H (a Python int, so that exported graphs hold constants).
        frame_dim: the frames dim T.
        head_dim: the heads dim.

    Returns:
        Tensor of ``x``'s shape (``x`` itself when there are no groups).
    """
    if not groups:
        return x
    sizes = [last - first for first, last, _ in groups]
    sizes.append(num_heads - groups[-1][1])  # the spatial heads (maybe 0)
    parts = list(x.split(sizes, dim=head_dim))
    for index, source in enumerate(sources):
        parts[index] = parts[index].index_select(frame_dim, source)
    return torch.cat(parts, head_dim)


def relocation_index(groups: List[Tuple[int, int, int]], num_heads: int,
                     num_frames: int) -> Tensor:
    """Where each (q/k/v, head, frame) of a gathered layout comes from.

    With q, k, v laid out as ``(B, 3*H*T, L, D)`` (block s of q/k/v, head h,
    frame t at ``(s*H + h)*T + t``), ``x.index_select(1, index)`` is, viewed
    as ``(B, 3, H*T, L, D)``,
    with the keys and values of temporal head h at frame t taken from frame
    ``t + dt`` (itself when that lies outside the clip); queries and spatial
    heads index themselves. One gather replaces the in-place shift.

    Args:
        groups: from :func:`parse_head_offsets`.
        num_heads: H.
        num_frames: T.

    Returns:
        ``(3*H*T,)`` int64 tensor.
    """
    frames = torch.arange(num_frames)
    source = frames.repeat(3, num_heads, 1)  # (3, H, T): every one itself
    for (first, last, _), frame in zip(groups,
                                       source_frames(groups, num_frames)):
        source[1:, first:last] = frame  # keys and values only
    blocks = torch.arange(3 * num_heads).view(3, num_heads, 1)
    return (blocks * num_frames + source).flatten()


def shift_heads_in_time_(x: Tensor, groups: List[Tuple[int, int, int]],
                         num_frames: int) -> Tensor:
    """In place: make head block ``[h0, h1)`` of frame t hold frame
    ``t + dt``'s values; returns ``x``. The eager path of
    :class:`STDHAttention` (fastest: copies only the temporal heads);
    exporters get :func:`relocate_heads` instead.

    A frame whose source ``t + dt`` lies outside the clip keeps its own values
    (no zero padding, no wrap-around). Only the temporal heads are read and
    written: a copy of their channels (k of H heads: k/H of the data) is
    taken, then shifted back with slice copies; the spatial heads are not
    touched. Autograd and ``torch.inference_mode`` handle the in-place copy;
    use it on a tensor nothing else reads (a fresh projection output).

    Args:
        x: ``(B*T, L, ..., H, D_head)``, rows (batch, time)-major, heads on
            dim -2 (e.g. ``(B*T, L, 2, H, D)``: keys and values together).
        groups: from :func:`parse_head_offsets` (contiguous from head 0).
        num_frames: T.
    """
    if not groups:
        return x
    clip = x.unflatten(0, (x.shape[0] // num_frames, num_frames))
    end = groups[-1][1]
    source = clip[..., :end, :].clone()  # the temporal heads, unshifted
    for first, last, dt in groups:
        kept = num_frames - abs(dt)  # frames whose source is in the clip
        if dt > 0:
            clip[:, :kept, ..., first:last, :] = source[:, dt:, ...,
                                                        first:last, :]
        else:
            clip[:, -dt:, ..., first:last, :] = source[:, :kept, ...,
                                                       first:last, :]
    return x


class STDHAttention(nn.Module):
    """Multi-head self-attention with optional STDHA head relocation.

    Parameter names follow CLIP (``in_proj`` packs Q, K, V row-wise;
    ``out_proj``), so image-model weights load unchanged.

    Args:
        embed_dims (int): Width C.
        num_heads (int): Heads H.
        num_frames (int): Frames T this layer sees; checked against offsets.
        offsets (dict | None): STDHA offsets ``{dt: heads}``; None = spatial.
        attn_drop (float): attention dropout (training only).
        wrap_linear (callable, optional): ``wrap_linear(linear, role)``
            applied to each projection as it is made (role
            ``'attn.in_proj'`` / ``'attn.out_proj'``), e.g. a method's
            :meth:`~zeroi2v_mm.models.peft.PEFTMethod.wrap_linear` (the
            linear adapters attach this way).

    Shapes: ``(B*T, L, C) -> (B*T, L, C)``, rows (batch, time)-major.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 num_frames: int,
                 offsets: Optional[Dict[int, int]] = None,
                 attn_drop: float = 0.0,
                 wrap_linear: Optional[Callable[[nn.Linear, str],
                                                nn.Module]] = None):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.num_frames = num_frames
        self.offsets = dict(offsets or {})
        self.head_groups = parse_head_offsets(self.offsets, num_heads,
                                              num_frames)
        self.attn_drop = attn_drop
        # Where gathered q, k, v come from (the export formulation, see
        # relocation_index): a constant of the model (not in checkpoints),
        # moved with it by ``.to()``.
        self.register_buffer(
            'relocation_index',
            relocation_index(self.head_groups, num_heads, num_frames),
            persistent=False)
        # True: the export formulation (one gather) in eager mode too; it is
        # chosen by itself under tracing, torch.export and torch.compile.
        self.gather_relocation = False
        wrap_linear = wrap_linear or (lambda linear, role: linear)
        # Each projection is made, then wrapped, before the next is made.
        self.in_proj = wrap_linear(
            nn.Linear(embed_dims, 3 * embed_dims), 'attn.in_proj')
        self.out_proj = wrap_linear(
            nn.Linear(embed_dims, embed_dims), 'attn.out_proj')

    def forward(self, x: Tensor) -> Tensor:
        rows, length, _ = x.shape
        # (checked in eager mode; a traced graph would keep the arithmetic)
        if not torch.jit.is_tracing() and rows % self.num_frames:
            raise ValueError(f'{rows} token rows are not a whole number of '
                             f'{self.num_frames}-frame clips')
        head_dims = self.embed_dims // self.num_heads
        qkv = self.in_proj(x).view(rows, length, 3, self.num_heads, head_dims)
        # Only keys and values move in time (paper Table 1: "HR KV").
        if self.head_groups and (self.gather_relocation
                                 or is_tracing_or_exporting()):
            # One gather along (channel block, frame) with the layer's
            # precomputed index: what TorchScript, torch.export and both ONNX
            # exporters keep as it is (they lose or bloat the in-place copy
            # below), and only 2 graph nodes (a reshape and the gather) over
            # the plain ViT's; the sizes are the layer's own (-1 for the
            # batch), so the graph needs no shape arithmetic for them.
            frames = self.num_frames
            # The token count as a constant of the graph: it is fixed by the
            # model (the backbone checks the input's patch grid), and a
            # traced size would cost shape arithmetic in every reshape.
            # (torch.export and torch.compile keep it static already.)
            if torch.jit.is_tracing():
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', torch.jit.TracerWarning)
                    length = int(length)
            qkv = qkv.view(-1, frames, length, 3 * self.num_heads, head_dims)
            qkv = qkv.permute(0, 3, 1, 2,
                              4).reshape(-1, 3 * self.num_heads * frames,
                                         length, head_dims)
            # (B, 3*H*T, L, D) -> (B, 3, H*T, L, D): q, k, v of every head
            # and frame, k and v of the temporal heads from their source
            # frames.
            q, k, v = qkv.index_select(1, self.relocation_index).view(
                -1, 3, self.num_heads * frames, length, head_dims).unbind(1)
            # 4-D attention (what the dynamo exporter takes) over (B, H*T);
            # back to (B, T, L, H, D) rows.
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
            out = out.view(-1, self.num_heads, frames, length, head_dims)
            out = out.permute(0, 2, 3, 1, 4).reshape(-1, length,
                                                     self.embed_dims)
            return self.out_proj(out)
        # Eager: in place in the fresh projection output, copying only the
        # temporal heads' channels; a gather would copy all of q, k and v
        # (measurably slower on CPU).
        shift_heads_in_time_(qkv[:, :, 1:], self.head_groups, self.num_frames)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(rows, length, self.embed_dims)
        return self.out_proj(out)

    def extra_repr(self) -> str:
        return (f'num_heads={self.num_heads}, num_frames={self.num_frames}, '
                f'offsets={self.offsets}')
