from .backbones import ZeroI2VViT
from .heads import ZeroI2VHead
from .layers import AdaptedLinear, LinearAdapter, STDHAttention

__all__ = ['ZeroI2VViT', 'ZeroI2VHead', 'AdaptedLinear', 'LinearAdapter',
           'STDHAttention']
