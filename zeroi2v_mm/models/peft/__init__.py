"""Parameter-efficient adaptation methods for the ViT backbones."""
from .aim import AIMAdapters, plain_attention
from .gelu_adapter import DenseGELUAdapters, GELUAdapter
from .lora import (HeadDeltaLinear, LoRALinear, attach_lora,
                   attach_temporal_heads)
from .st_adapter import STAdapter, STAdapters

__all__ = ['AIMAdapters', 'DenseGELUAdapters', 'GELUAdapter',
           'HeadDeltaLinear', 'LoRALinear', 'STAdapter', 'STAdapters',
           'attach_lora', 'attach_temporal_heads', 'plain_attention']
