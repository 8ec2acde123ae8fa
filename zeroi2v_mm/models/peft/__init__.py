"""Parameter-efficient adaptation methods for the ViT backbones: the method
registry and base class (``base.py``), ZeroI2V's linear adapters and the
baselines of ZeroI2V Tables 3 / 4, one file each."""
from .aim import AIM, AIMAdapters, AIMBlock, plain_attention  # noqa: I001
from .base import (PEFT_METHODS, AdapterBlock, PEFTMethod, build_method,
                   is_mergeable)
from .gelu_adapter import (DenseGELUAdapters, GELUAdapter, GELUAdapterBlock,
                           GELUAdapterMethod)
from .linear_adapters import LinearAdapters
from .lora import (HeadDeltaLinear, LoRA, LoRALinear, TemporalHeads,
                   attach_lora, attach_temporal_heads)
from .ssf import SSF, ScaleShiftLinear
from .st_adapter import STAdapter, STAdapterBlock, STAdapterMethod, STAdapters

#: Registered methods whose updates fold into the frozen linears.
MERGEABLE_PEFT = tuple(
    sorted(name for name, method in PEFT_METHODS.module_dict.items()
           if method.mergeable and name != 'LinearAdapters'))

__all__ = [
    'AIM', 'AIMAdapters', 'AIMBlock', 'AdapterBlock', 'DenseGELUAdapters',
    'GELUAdapter', 'GELUAdapterBlock', 'GELUAdapterMethod', 'HeadDeltaLinear',
    'LinearAdapters', 'LoRA', 'LoRALinear', 'MERGEABLE_PEFT', 'PEFTMethod',
    'PEFT_METHODS', 'SSF', 'ScaleShiftLinear', 'STAdapter', 'STAdapterBlock',
    'STAdapterMethod', 'STAdapters', 'TemporalHeads', 'attach_lora',
    'attach_temporal_heads', 'build_method', 'is_mergeable', 'plain_attention'
]
