"""Linear adapters and the linear layers that carry them.

A linear adapter is an affine map
``A(x) = x + s * W_up(dropout(W_down x + b_down)) + ...``
with no activation, so in eval mode it equals ``M x + c`` with
``M = I + s W_up W_down`` and ``c = s (W_up b_down + b_up)``. An adapter placed
right before or right after a frozen ``nn.Linear`` can therefore be folded into
that linear after training (structural reparameterisation), leaving a plain
``nn.Linear`` of the original shape: zero extra cost at inference.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def bottleneck_width(embed_dims: int, ratio: float) -> int:
    """Hidden width ``int(embed_dims * ratio)`` of an adapter; an empty
    bottleneck is an error naming both values."""
    hidden = int(embed_dims * ratio)
    if hidden < 1:
        raise ValueError(f'adapter ratio={ratio} gives an empty bottleneck '
                         f'for embed_dims={embed_dims}')
    return hidden


class LinearAdapter(nn.Module):
    """``y = x + s * up(dropout(down(x)))``, identity at initialisation.

    Initialisation as in the released ZeroI2V code: ``down.weight``
    trunc-normal (std 0.02; torch's default
    cut-off at +-2 is never reached), ``down.bias`` zero, ``up`` all zero.

    Args:
        embed_dims (int): Width C of the tokens it adapts.
        ratio (float): Bottleneck width as a fraction of ``embed_dims``.
        scale (float): The factor s on the adapter branch.
        dropout (float): Dropout on the bottleneck (training only).

    Shapes: ``(..., C) -> (..., C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 ratio: float = 0.25,
                 scale: float = 1.0,
                 dropout: float = 0.0):
        super().__init__()
        hidden = bottleneck_width(embed_dims, ratio)
        self.scale = scale
        self.down = nn.Linear(embed_dims, hidden)
        self.dropout = nn.Dropout(dropout)
        self.up = nn.Linear(hidden, embed_dims)
        # W_down trunc-normal std 0.02 with zero bias, as the released ZeroI2V
        # code initialises its D_fc1; torch's default (Kaiming-uniform) would
        # start the bottleneck about 3x larger for width 768.
        nn.init.trunc_normal_(self.down.weight, std=0.02)
        nn.init.zeros_(self.down.bias)
        # Zero W_up and b_up: the adapted model starts as the image model.
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.scale * self.up(self.dropout(self.down(x)))

    def affine(self) -> Tuple[Tensor, Tensor]:
        """The eval-mode map as ``(M, c)`` with ``A(x) = x @ M.T + c``.

        Returns:
            tuple: ``M`` of shape (C, C) and ``c`` of shape (C,), in float64 so
            that folding them adds no rounding beyond the final cast.
        """
        w_down = self.down.weight.double()
        w_up = self.up.weight.double()
        eye = torch.eye(
            w_down.shape[1], dtype=torch.float64, device=w_down.device)
        matrix = eye + self.scale * w_up @ w_down
        offset = self.scale * (
            w_up @ self.down.bias.double() + self.up.bias.double())
        return matrix, offset


class AdaptedLinear(nn.Linear):
    """An ``nn.Linear`` with optional linear adapters on its input and output.

    Its own ``weight`` and ``bias`` keep the names of the plain layer, so the
    state dict of a merged model has exactly the keys of the model built
    without adapters. Made around an existing frozen layer by
    :func:`adapt_linear` (sharing its ``weight`` and ``bias``), which is how
    the backbones use it; a model without adapters has plain ``nn.Linear``s.

    Args:
        in_features, out_features (int): As ``nn.Linear``.
        input_adapters (int): 0 = none; 1 = one adapter on the input, shared by
            all outputs; n > 1 = the output rows are split into n equal chunks
            (Q, K, V of a packed in-projection) and chunk i reads its own
            adapted input ``A_i(x)``.
        output_adapter (bool): an adapter on the output.
        adapter_cfg (dict): ``ratio``, ``scale``, ``dropout`` of the adapters.

    Shapes: ``(..., in_features) -> (..., out_features)``.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 input_adapters: int = 0,
                 output_adapter: bool = False,
                 adapter_cfg: Optional[dict] = None):
        super().__init__(in_features, out_features, bias=bias)
        self._add_adapters(input_adapters, output_adapter, adapter_cfg or {})

    def _add_adapters(self, input_adapters: int, output_adapter: bool,
                      adapter_cfg: dict) -> None:
        if input_adapters and self.out_features % input_adapters:
            raise ValueError(f'out_features={self.out_features} cannot be '
                             f'split into input_adapters={input_adapters} '
                             'chunks')
        self.input_adapters = nn.ModuleList(
            LinearAdapter(self.in_features, **adapter_cfg)
            for _ in range(input_adapters))
        self.output_adapter = (
            LinearAdapter(self.out_features, **adapter_cfg)
            if output_adapter else None)

    @classmethod
    def wrap(cls,
             linear: nn.Linear,
             input_adapters: int = 0,
             output_adapter: bool = False,
             **adapter_cfg) -> 'AdaptedLinear':
        """An ``AdaptedLinear`` around ``linear``: it shares ``linear``'s
        ``weight`` and ``bias`` Parameters and adds fresh adapters (on
        ``linear``'s device). The layer's own throwaway weights are made on
        the meta device: no memory, no random numbers drawn, so a seeded
        model draws the same numbers as one built with adapters directly."""
        new = cls.sharing_weights_of(linear)
        new._add_adapters(input_adapters, output_adapter, adapter_cfg)
        return new.to(linear.weight.device)

    @classmethod
    def sharing_weights_of(cls, linear: nn.Linear) -> 'AdaptedLinear':
        """A ``cls`` whose ``weight`` and ``bias`` are ``linear``'s
        Parameters; its own are made on the meta device and dropped (no
        memory, no random numbers). Subclasses add their parameters next."""
        with torch.device('meta'):
            new = cls(
                linear.in_features,
                linear.out_features,
                bias=linear.bias is not None)
        new.weight = linear.weight
        new.bias = linear.bias
        return new

    def update_parameters(self):
        """The parameters that train (the adapters'), not the frozen
        ``weight`` / ``bias``."""
        for adapter in self.input_adapters:
            yield from adapter.parameters()
        if self.output_adapter is not None:
            yield from self.output_adapter.parameters()

    @property
    def mergeable(self) -> bool:
        """Whether this layer carries an update that :meth:`folded` folds
        into one plain ``nn.Linear`` (the merge contract: ``merge_adapters``
        replaces every mergeable layer by its ``folded()``)."""
        return len(self.input_adapters) > 0 or self.output_adapter is not None

    def forward(self, x: Tensor) -> Tensor:
        if len(self.input_adapters) == 0:
            out = F.linear(x, self.weight, self.bias)
        elif len(self.input_adapters) == 1:
            out = F.linear(self.input_adapters[0](x), self.weight, self.bias)
        else:
            chunks = len(self.input_adapters)
            weights = self.weight.chunk(chunks, dim=0)
            biases = (
                self.bias.chunk(chunks, dim=0)
                if self.bias is not None else [None] * chunks)
            out = torch.cat([
                F.linear(adapter(x), w, b)
                for adapter, w, b in zip(self.input_adapters, weights, biases)
            ],
                            dim=-1)
        if self.output_adapter is not None:
            out = self.output_adapter(out)
        return out

    @torch.no_grad()
    def merged_weight_and_bias(self) -> Tuple[Tensor, Optional[Tensor]]:
        """``(W', b')`` of the plain linear computing what this layer computes
        in eval mode: the one name every mergeable layer gives its folded
        update (computed in float64 where the fold multiplies).

        Input side: ``W (M x + c) + b = (W M) x + (W c + b)``, per output
        chunk. Output side: ``M (W x + b) + c = (M W) x + (M b + c)``.
        """
        weight = self.weight.double()
        bias = (
            self.bias.double() if self.bias is not None else torch.zeros(
                self.out_features,
                dtype=torch.float64,
                device=self.weight.device))
        if len(self.input_adapters):
            new_weights: List[Tensor] = []
            new_biases: List[Tensor] = []
            chunks = len(self.input_adapters)
            for adapter, w, b in zip(self.input_adapters,
                                     weight.chunk(chunks, dim=0),
                                     bias.chunk(chunks, dim=0)):
                matrix, offset = adapter.affine()
                new_weights.append(w @ matrix)
                new_biases.append(w @ offset + b)
            weight, bias = torch.cat(new_weights), torch.cat(new_biases)
        if self.output_adapter is not None:
            matrix, offset = self.output_adapter.affine()
            weight, bias = matrix @ weight, matrix @ bias + offset
        keep_bias = self.bias is not None or self.mergeable
        return weight, bias if keep_bias else None

    @torch.no_grad()
    def folded(self) -> nn.Linear:
        """The plain ``nn.Linear`` of :meth:`merged_weight_and_bias`, in this
        layer's dtype and device, trainable as its frozen weight is."""
        weight, bias = self.merged_weight_and_bias()
        return plain_linear(weight, bias, self.weight.dtype,
                            self.weight.requires_grad)


def count_adapted_linears(model: nn.Module) -> int:
    """How many linears in ``model`` carry updates that fold into them
    (adapters, LoRA, temporal-head deltas, SSF); 0 for a plain or merged
    model."""
    return sum(
        isinstance(m, AdaptedLinear) and m.mergeable for m in model.modules())


def plain_linear(weight: Tensor, bias: Optional[Tensor], dtype: torch.dtype,
                 requires_grad: bool) -> nn.Linear:
    """An ``nn.Linear`` holding ``weight`` / ``bias`` cast to ``dtype``."""
    linear = nn.Linear(
        weight.shape[1],
        weight.shape[0],
        bias=bias is not None,
        device=weight.device,
        dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(weight)
        if bias is not None:
            linear.bias.copy_(bias)
    linear.requires_grad_(requires_grad)
    return linear


def adapt_linear(linear: nn.Linear,
                 input_adapters: int = 0,
                 output_adapter: bool = False,
                 **adapter_cfg) -> nn.Module:
    """Linear adapters around any frozen ``nn.Linear`` (of any backbone).

    Args:
        linear: the layer to adapt; its ``weight`` and ``bias`` keep their
            names in the returned module (checkpoints and pretrained weights
            load by the same keys).
        input_adapters: adapters before it (see :class:`AdaptedLinear`).
        output_adapter: an adapter after it.
        **adapter_cfg: ``ratio``, ``scale``, ``dropout``.

    Returns:
        ``linear`` itself when no adapter is asked for, else an
        :class:`AdaptedLinear` sharing its parameters, which folds back into
        one ``nn.Linear`` (:meth:`AdaptedLinear.folded`).
    """
    if not input_adapters and not output_adapter:
        return linear
    return AdaptedLinear.wrap(linear, input_adapters, output_adapter,
                              **adapter_cfg)
