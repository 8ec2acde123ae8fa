from .image_vit import ZeroI2VImageViT
from .zeroi2v_vit import ZeroI2VViT

__all__ = ['ZeroI2VViT', 'ZeroI2VImageViT']
