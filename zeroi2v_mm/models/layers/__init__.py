"""The building blocks every backbone shares: linear adapters that fold into
their linears (``linear_adapter.py``) and STDHA attention (``stdha.py``).
The adaptation methods live in ``models/peft``, the frame compression layers
in ``models/compressors``."""
from .linear_adapter import AdaptedLinear, LinearAdapter, adapt_linear
from .stdha import (STDHAttention, parse_head_offsets, relocate_heads,
                    source_frames)

__all__ = [
    'AdaptedLinear', 'LinearAdapter', 'STDHAttention', 'adapt_linear',
    'parse_head_offsets', 'relocate_heads', 'source_frames'
]
