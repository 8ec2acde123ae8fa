from . import detectors  # noqa: F401  (ZeroI2VFastRCNN; mmdet only on build)
from .backbones import ZeroI2VViT
from .heads import ZeroI2VHead
from .layers import AdaptedLinear, LinearAdapter, STDHAttention
from .roi_extractors import TorchvisionRoIAlign, ZeroI2VRoIExtractor3D

__all__ = [
    'ZeroI2VViT', 'ZeroI2VHead', 'AdaptedLinear', 'LinearAdapter',
    'STDHAttention', 'TorchvisionRoIAlign', 'ZeroI2VRoIExtractor3D'
]
