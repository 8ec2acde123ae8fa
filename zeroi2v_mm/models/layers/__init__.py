from .linear_adapter import AdaptedLinear, LinearAdapter
from .stdha import (STDHAttention, parse_head_offsets, relocate_heads,
                    shift_heads_in_time, source_frames)

# Moved to models/peft and models/compressors; still importable from here.
from ..compressors.inti import ConvPooling, InTI, LinearPooling  # noqa: E402
from ..peft import (AIMAdapters, DenseGELUAdapters, GELUAdapter,  # noqa: E402
                    HeadDeltaLinear, LoRALinear, STAdapter, STAdapters,
                    attach_lora, attach_temporal_heads, plain_attention)

# Baseline methods of ZeroI2V Tables 3 / 4 for ``ZeroI2VViT(peft=dict(type=
# ...))``: type -> ``attach(block, embed_dims, num_frames, grid_size, **cfg)``.
# An attach either returns a module that the block keeps as ``block.peft``
# and whose ``forward(block, x)`` replaces the block's forward (AIM,
# ST-Adapter, GELU adapters: extra modules at inference), or changes the
# block's linears in place and returns None (LoRA, temporal heads: mergeable).
PEFT_METHODS = {
    'AIM': AIMAdapters.attach,
    'STAdapter': STAdapters.attach,
    'GELUAdapter': DenseGELUAdapters.attach,
    'LoRA': attach_lora,
    'TemporalHeads': attach_temporal_heads,
}
# Methods whose updates fold into the frozen linears (merge_adapters): after
# merging, the model is the plain model of the config with peft=None.
MERGEABLE_PEFT = ('LoRA', 'TemporalHeads')
# Parameter-name markers of the methods' trainable parameters.
PEFT_PARAM_MARKERS = ('.peft.', '.lora_', '.head_delta_')

__all__ = ['AIMAdapters', 'AdaptedLinear', 'ConvPooling', 'DenseGELUAdapters',
           'GELUAdapter', 'HeadDeltaLinear', 'InTI', 'LinearAdapter',
           'LinearPooling', 'LoRALinear', 'MERGEABLE_PEFT',
           'PEFT_METHODS', 'PEFT_PARAM_MARKERS', 'STAdapter', 'STAdapters',
           'STDHAttention', 'attach_lora', 'attach_temporal_heads',
           'parse_head_offsets', 'plain_attention', 'relocate_heads',
           'shift_heads_in_time', 'source_frames']
