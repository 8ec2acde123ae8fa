from .inti import ConvPooling, InTI, LinearPooling
from .linear_adapter import AdaptedLinear, LinearAdapter
from .stdha import STDHAttention, parse_head_offsets, shift_heads_in_time

__all__ = ['AdaptedLinear', 'ConvPooling', 'InTI', 'LinearAdapter',
           'LinearPooling', 'STDHAttention', 'parse_head_offsets',
           'shift_heads_in_time']
