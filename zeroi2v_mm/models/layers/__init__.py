# Moved to models/peft and models/compressors; still importable from here.
from ..compressors.inti import ConvPooling, InTI, LinearPooling
from ..peft import (MERGEABLE_PEFT, PEFT_METHODS, AIMAdapters,
                    DenseGELUAdapters, GELUAdapter, HeadDeltaLinear,
                    LoRALinear, STAdapter, STAdapters, attach_lora,
                    attach_temporal_heads, plain_attention)
from .linear_adapter import AdaptedLinear, LinearAdapter, adapt_linear
from .stdha import (STDHAttention, parse_head_offsets, relocate_heads,
                    shift_heads_in_time, source_frames)

# Parameter-name markers of the baselines' trainable parameters. Kept for
# code that inspects checkpoint files (no modules there); the backbones
# freeze by module (PEFTMethod.trainable_parameters), not by name.
PEFT_PARAM_MARKERS = ('.peft.', '.lora_', '.head_delta_')

__all__ = [
    'AIMAdapters', 'AdaptedLinear', 'ConvPooling', 'DenseGELUAdapters',
    'GELUAdapter', 'HeadDeltaLinear', 'InTI', 'LinearAdapter', 'LinearPooling',
    'LoRALinear', 'MERGEABLE_PEFT', 'PEFT_METHODS', 'PEFT_PARAM_MARKERS',
    'STAdapter', 'STAdapters', 'STDHAttention', 'adapt_linear', 'attach_lora',
    'attach_temporal_heads', 'parse_head_offsets', 'plain_attention',
    'relocate_heads', 'shift_heads_in_time', 'source_frames'
]
