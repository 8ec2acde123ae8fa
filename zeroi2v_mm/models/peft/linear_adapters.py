"""ZeroI2V's dense linear adapters as a method (``ZeroI2VViT(adapters=...)``).

Where the adapters sit in a block (the reference placement): before the qkv
in-projection (one adapter shared by Q, K, V, or one each), after the
attention out-projection, before MLP fc1 and after MLP fc2. Each wraps its
frozen linear (:func:`~..layers.linear_adapter.adapt_linear`) and folds into
it after training: mergeable.
"""
from typing import Dict, Tuple

import torch.nn as nn

from ..layers.linear_adapter import adapt_linear
from .base import PEFT_METHODS, PEFTMethod

# num_adapters -> adapters before the in-projection (1: shared by Q, K, V;
# 3: one each). 3 = the reference's num_tadapter=1: 4 without the adapter
# after MLP fc2.
QKV_INPUT_ADAPTERS = {3: 1, 4: 1, 6: 3}


@PEFT_METHODS.register_module(name='LinearAdapters')
class LinearAdapters(PEFTMethod):
    """Linear adapters around the frozen linears of every block.

    Args:
        num_adapters (int): 4 (shared Q, K, V adapter), 6 (one each for Q,
            K, V) or 3 (4 without the one after MLP fc2). Defaults to 4.
        ratio (float): Bottleneck width / C. Defaults to 0.25.
        scale (float): Factor s on the adapter branch. Defaults to 1.0.
        dropout (float): Dropout in the bottleneck. Defaults to 0.0.
    """

    mergeable = True

    def __init__(self,
                 num_adapters: int = 4,
                 ratio: float = 0.25,
                 scale: float = 1.0,
                 dropout: float = 0.0):
        cfg = dict(ratio=ratio, scale=scale, dropout=dropout)
        for key, value in cfg.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f'adapters {key}={value!r} must be a number')
        if not 0 <= dropout < 1:
            raise ValueError(f'adapters dropout={dropout!r} must be in [0, 1)')
        if num_adapters not in QKV_INPUT_ADAPTERS:
            raise ValueError(f'adapters num_adapters={num_adapters!r}: '
                             f'choose from {sorted(QKV_INPUT_ADAPTERS)}')
        self.num_adapters = num_adapters
        self.adapter_cfg = cfg
        # role -> (adapters on the input, adapter on the output)
        self.placement: Dict[str, Tuple[int, bool]] = {
            'attn.in_proj': (QKV_INPUT_ADAPTERS[num_adapters], False),
            'attn.out_proj': (0, True),
            'mlp.c_fc': (1, False),
            'mlp.c_proj': (0, num_adapters != 3),
        }

    def wrap_linear(self, linear: nn.Linear, role: str) -> nn.Module:
        inputs, output = self.placement.get(role, (0, False))
        return adapt_linear(linear, inputs, output, **self.adapter_cfg)
