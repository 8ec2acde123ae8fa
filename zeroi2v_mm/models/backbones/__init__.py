from .zeroi2v_vit import ZeroI2VViT

__all__ = ['ZeroI2VViT']
