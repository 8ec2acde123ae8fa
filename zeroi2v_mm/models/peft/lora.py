"""Parallel, mergeable weight updates on the frozen linears: LoRA and
temporal-heads-only tuning (ZeroI2V Table 3 baselines).

Both keep the frozen ``W`` and train an additive update ``dW`` next to it, so
``W + dW`` folds into one plain ``nn.Linear`` after training, through the same
:func:`zeroi2v_mm.reparam.merge_adapters` path as the linear adapters: the
layers here are :class:`~.linear_adapter.AdaptedLinear` subclasses that are
``mergeable`` and give their folded update as ``merged_weight_and_bias()``.
Their own ``weight`` / ``bias`` keep the plain layer's names, so pretrained
weights load unchanged and a merged state dict is the plain model's.

* :class:`LoRALinear`: ``y = W x + b + (alpha / r) * B(A(dropout(x)))``, ``A``
  (r x in) Kaiming-uniform, ``B`` (out x r) zero: identity at the start.
  mmpretrain's ``LoRALinear`` has the same maths and init, but it wraps the
  original layer (its weights become ``original_layer.weight``, which breaks
  loading CLIP weights by name and the merged model's keys), has no merge, and
  its ``LoRAModel`` wraps the whole model; hence this small re-implementation.
* :class:`HeadDeltaLinear`: ``dW`` is dense but lives only on some rows (with
  their bias entries) or some columns of ``W``. Temporal-heads-only tuning
  puts it on the Q, K, V rows of the STDHA temporal heads in the in-projection
  and on their columns of the out-projection: after any optimiser step
  (weight decay included) only those slices of the effective weights have
  changed, which a gradient mask on ``W`` could not guarantee under AdamW's
  decoupled weight decay. Weight decay pulls the slices towards the pretrained
  values (not towards zero).
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..layers.linear_adapter import AdaptedLinear
from .base import PEFT_METHODS, PEFTMethod

# The frozen linears of a block that LoRA can target: name -> parent module.
LINEARS: Dict[str, str] = {
    'in_proj': 'attn',
    'out_proj': 'attn',
    'c_fc': 'mlp',
    'c_proj': 'mlp'
}


class _WeightSharingUpdate(AdaptedLinear):
    """An ``AdaptedLinear`` that trains an update next to the frozen weight
    it shares with the ``nn.Linear`` it wraps (LoRA, temporal heads)."""

    @classmethod
    def wrap(cls, linear: nn.Linear, **cfg) -> '_WeightSharingUpdate':
        """A layer of this kind that shares ``linear``'s weight and bias."""
        if isinstance(linear, AdaptedLinear) and linear.mergeable:
            raise ValueError(f'{type(linear).__name__} already carries '
                             'adapters; peft methods replace the linear '
                             'adapters (set adapters=None)')
        new = cls(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            **cfg).to(linear.weight.device)
        new.weight = linear.weight
        new.bias = linear.bias
        return new

    @property
    def mergeable(self) -> bool:
        return True


class LoRALinear(_WeightSharingUpdate):
    """An ``nn.Linear`` with a parallel low-rank update (LoRA).

    Args:
        in_features, out_features, bias: As ``nn.Linear``.
        rank (int): r.
        alpha (float, optional): The update is scaled by ``alpha / rank``
            (default ``alpha = rank``: scale 1).
        dropout (float): Dropout on the LoRA input (training only).
        chunks (int): 1 = one low-rank update of the whole weight; n > 1 =
            the output rows split into n equal chunks (Q, K, V of a packed
            in-projection), each with its own rank-r update ``B_i A_i``
            (``lora_down`` stacks the ``A_i``, ``lora_up`` rows hold the
            ``B_i``): ``r * (n * in + out)`` parameters.

    Shapes: ``(..., in_features) -> (..., out_features)``.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 rank: int = 8,
                 alpha: Optional[float] = None,
                 dropout: float = 0.0,
                 chunks: int = 1):
        super().__init__(in_features, out_features, bias=bias)
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f'LoRA rank={rank!r} must be a positive integer')
        if chunks < 1 or out_features % chunks:
            raise ValueError(f'LoRA chunks={chunks} does not split '
                             f'out_features={out_features}')
        self.rank = rank
        self.chunks = chunks
        self.lora_scale = (rank if alpha is None else alpha) / rank
        self.lora_dropout = nn.Dropout(dropout)
        self.lora_down = nn.Linear(in_features, rank * chunks, bias=False)
        self.lora_up = nn.Linear(rank, out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.lora_down(self.lora_dropout(x))
        if self.chunks == 1:
            update = self.lora_up(hidden)
        else:  # chunk i of the output reads only its own A_i x
            hidden = hidden.unflatten(-1, (self.chunks, self.rank))
            up = self.lora_up.weight.view(self.chunks, -1, self.rank)
            update = torch.einsum('...cr,cor->...co', hidden, up).flatten(-2)
        return F.linear(x, self.weight, self.bias) + self.lora_scale * update

    def update_parameters(self):
        """The parameters that train: ``lora_down`` and ``lora_up``."""
        yield from self.lora_down.parameters()
        yield from self.lora_up.parameters()

    def _low_rank_update(self) -> Tensor:
        """The unscaled update ``B A`` (``(out, in)``, float64), chunk by
        chunk."""
        down = self.lora_down.weight.double().view(self.chunks, self.rank, -1)
        up = self.lora_up.weight.double().view(self.chunks, -1, self.rank)
        return torch.bmm(up, down).reshape(self.out_features, self.in_features)

    @torch.no_grad()
    def merged_weight_and_bias(self) -> Tuple[Tensor, Optional[Tensor]]:
        """``(W + (alpha / r) B A, b)``, the sum in float64."""
        return (self.weight.double() +
                self.lora_scale * self._low_rank_update(), self.bias)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, rank={self.rank}, ' \
               f'chunks={self.chunks}, scale={self.lora_scale:g}'


class HeadDeltaLinear(_WeightSharingUpdate):
    """An ``nn.Linear`` whose update ``dW`` is restricted to some rows (and
    their bias entries) or to some columns.

    Args:
        in_features, out_features, bias: As ``nn.Linear``.
        rows (sequence of int, optional): Output rows that train.
        cols (sequence of int, optional): Input columns that train (exactly
            one of ``rows`` / ``cols``).
        bias_delta (bool): With ``rows``: also train their bias entries.

    The trainable parameters are ``head_delta_weight`` (``(len(rows), in)``
    or ``(out, len(cols))``) and ``head_delta_bias``, zero-initialised.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 rows: Optional[Sequence[int]] = None,
                 cols: Optional[Sequence[int]] = None,
                 bias_delta: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        if (rows is None) == (cols is None):
            raise ValueError('HeadDeltaLinear: give exactly one of rows / '
                             'cols')
        index = torch.as_tensor(
            list(rows if rows is not None else cols), dtype=torch.long)
        limit = out_features if rows is not None else in_features
        if index.numel() == 0 or index.min() < 0 or index.max() >= limit:
            raise ValueError(f'HeadDeltaLinear: indices must be in [0, '
                             f'{limit}) and not empty')
        self.delta_dim = 0 if rows is not None else 1
        self.register_buffer('delta_index', index, persistent=False)
        shape = ((index.numel(), in_features) if rows is not None else
                 (out_features, index.numel()))
        self.head_delta_weight = nn.Parameter(torch.zeros(shape))
        self.head_delta_bias = (
            nn.Parameter(torch.zeros(index.numel()))
            if rows is not None and bias and bias_delta else None)

    def merged_weight_and_bias(self) -> Tuple[Tensor, Optional[Tensor]]:
        """``(W + dW, b + db)``: what the forward computes with, so the
        folded layer is bit-identical to it."""
        weight = self.weight.index_add(
            self.delta_dim, self.delta_index,
            self.head_delta_weight.to(self.weight.dtype))
        bias = self.bias
        if self.head_delta_bias is not None:
            bias = bias.index_add(0, self.delta_index,
                                  self.head_delta_bias.to(bias.dtype))
        return weight, bias

    def update_parameters(self):
        """The parameters that train: the row / column update."""
        yield self.head_delta_weight
        if self.head_delta_bias is not None:
            yield self.head_delta_bias

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.merged_weight_and_bias()
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        where = 'rows' if self.delta_dim == 0 else 'cols'
        return (f'{super().extra_repr()}, trainable {where}='
                f'{self.delta_index.numel()}')


def block_linears(block: nn.Module) -> Dict[str, Tuple[nn.Module, str]]:
    """The linears of a ZeroI2VViT block by role: ``(parent, name)``."""
    return {
        f'{parent}.{name}': (getattr(block, parent), name)
        for name, parent in LINEARS.items()
    }


def attach_temporal_heads(block: nn.Module,
                          embed_dims: int,
                          num_frames: int,
                          grid_size: Tuple[int, int],
                          qkv_bias: bool = True) -> None:
    """Temporal-heads-only tuning of ``block``, in place: the Q, K, V rows of
    the STDHA temporal heads in the in-projection (and, with ``qkv_bias``,
    their bias entries) and their columns of the out-projection train;
    nothing else of the block does. Needs STDHA (the temporal heads are heads
    ``0 .. k-1``, see :func:`~.stdha.parse_head_offsets`).
    """
    attn = block.attn
    if not attn.head_groups:
        raise ValueError("peft type 'TemporalHeads' tunes the STDHA temporal "
                         'heads: configure stdha=dict(offsets=...)')
    head_dims = embed_dims // attn.num_heads
    channels = attn.head_groups[-1][1] * head_dims  # heads 0 .. k-1
    rows = [
        chunk * embed_dims + i for chunk in range(3) for i in range(channels)
    ]
    attn.in_proj = HeadDeltaLinear.wrap(
        attn.in_proj, rows=rows, bias_delta=qkv_bias)
    attn.out_proj = HeadDeltaLinear.wrap(
        attn.out_proj, cols=list(range(channels)))


@PEFT_METHODS.register_module(name='LoRA')
class LoRA(PEFTMethod):
    """LoRA on the frozen linears of every block (mergeable).

    Args:
        rank, alpha, dropout: as :class:`LoRALinear`.
        targets (sequence of str): any of ``'in_proj'`` (the packed Q, K, V
            in-projection), ``'out_proj'``, ``'c_fc'``, ``'c_proj'``: the
            weights the dense linear adapters adapt.
        split_qkv (bool): Q, K and V each get their own rank-r LoRA
            (``r * 2C`` parameters each) instead of one LoRA for the packed
            in-projection (``r * 4C``).
    """

    mergeable = True

    def __init__(self,
                 rank: int = 8,
                 alpha: Optional[float] = None,
                 dropout: float = 0.0,
                 targets: Sequence[str] = tuple(LINEARS),
                 split_qkv: bool = False):
        unknown = set(targets) - set(LINEARS)
        if not targets or unknown:
            raise ValueError(f'LoRA targets={tuple(targets)}: choose from '
                             f'{tuple(LINEARS)}')
        self.targets = tuple(targets)
        self.split_qkv = split_qkv
        self.layer_cfg = dict(rank=rank, alpha=alpha, dropout=dropout)

    def adapt_linears(self, linears):
        """Wrap the target linears, in the order of ``targets`` (the order
        of the random draws)."""
        for name in self.targets:
            role = f'{LINEARS[name]}.{name}'
            if role not in linears:
                continue
            parent, attribute = linears[role]
            chunks = 3 if self.split_qkv and name == 'in_proj' else 1
            setattr(
                parent, attribute,
                LoRALinear.wrap(
                    getattr(parent, attribute),
                    chunks=chunks,
                    **self.layer_cfg))

    def adapt_block(self, block, embed_dims, num_frames, grid_size):
        self.adapt_linears(block_linears(block))
        return block


@PEFT_METHODS.register_module(name='TemporalHeads')
class TemporalHeads(PEFTMethod):
    """Only the STDHA temporal heads' Q/K/V/out slices train (mergeable);
    arguments as :func:`attach_temporal_heads`."""

    mergeable = True
    linears_only = False  # the STDHA temporal heads of ZeroI2VViT blocks

    def __init__(self, qkv_bias: bool = True):
        self.cfg = dict(qkv_bias=qkv_bias)

    def adapt_block(self, block, embed_dims, num_frames, grid_size):
        attach_temporal_heads(block, embed_dims, num_frames, grid_size,
                              **self.cfg)
        return block
