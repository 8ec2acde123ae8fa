"""Kept for existing imports: the parameter and FLOP counting helpers live in
:mod:`zeroi2v_mm.utils.complexity`."""
from .utils.complexity import (EXTRA_FLOP_HANDLES, complexity, count_flops,
                               count_parameters, count_view_flops,
                               is_recognizer, recognizer_logits, sdpa_flop_jit,
                               unwrap, view_shape)

__all__ = [
    'EXTRA_FLOP_HANDLES', 'complexity', 'count_flops', 'count_parameters',
    'count_view_flops', 'is_recognizer', 'recognizer_logits', 'sdpa_flop_jit',
    'unwrap', 'view_shape'
]
