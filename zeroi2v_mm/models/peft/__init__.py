"""Parameter-efficient adaptation methods for the ViT backbones: the method
registry and base class (``base.py``), ZeroI2V's linear adapters and the
baselines of ZeroI2V Tables 3 / 4, one file each."""
from .aim import AIM, AIMAdapters, AIMBlock, plain_attention  # noqa: I001
from .base import (PEFT_METHODS, AdapterBlock, PEFTMethod, build_method,
                   check_mergeable, is_mergeable, method_config,
                   plain_settings)
from .gelu_adapter import (DenseGELUAdapters, GELUAdapter, GELUAdapterBlock,
                           GELUAdapterMethod)
from .linear_adapters import LinearAdapters
from .lora import (HeadDeltaLinear, LoRA, LoRALinear, TemporalHeads,
                   attach_temporal_heads)
from .ssf import SSF, ScaleShiftLinear
from .st_adapter import STAdapter, STAdapterBlock, STAdapterMethod, STAdapters

__all__ = [
    'AIM', 'AIMAdapters', 'AIMBlock', 'AdapterBlock', 'DenseGELUAdapters',
    'GELUAdapter', 'GELUAdapterBlock', 'GELUAdapterMethod', 'HeadDeltaLinear',
    'LinearAdapters', 'LoRA', 'LoRALinear', 'PEFTMethod', 'PEFT_METHODS',
    'SSF', 'ScaleShiftLinear', 'STAdapter', 'STAdapterBlock',
    'STAdapterMethod', 'STAdapters', 'TemporalHeads', 'attach_temporal_heads',
    'build_method', 'check_mergeable', 'is_mergeable', 'method_config',
    'plain_attention', 'plain_settings'
]
