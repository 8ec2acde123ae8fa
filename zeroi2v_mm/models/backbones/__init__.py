from .image_vit import ZeroI2VImageViT
from .uniformerv2_inti import UniFormerV2InTI
from .zeroi2v_swin import ZeroI2VSwin
from .zeroi2v_vit import ZeroI2VViT

__all__ = ['ZeroI2VViT', 'ZeroI2VImageViT', 'UniFormerV2InTI', 'ZeroI2VSwin']
