"""Tiny timm and mmpretrain ViTs (random weights, moved off their initial
values) for the ViT-style tests (tests/models/backbones/test_vit_styles.py)
and the weight conversion tool's (tests/tools/test_convert_weights.py)."""
import torch
import torch.nn as nn
from timm.models.vision_transformer import VisionTransformer as TimmViT

# The ZeroI2VViT arch of these models.
ARCH = dict(width=64, layers=2, heads=4, patch_size=8, image_size=32)


def perturb(model: nn.Module, std: float = 0.05) -> nn.Module:
    """Move every parameter off its initial value (LayerNorm affine ones,
    biases, LayerScale gammas included) so that a dropped or misplaced
    tensor changes the output."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * std)
    model.eval()  # (mmpretrain's train() returns None)
    return model


def tiny_timm(layer_scale=None, **kwargs) -> TimmViT:
    torch.manual_seed(0)
    return perturb(
        TimmViT(
            img_size=32,
            patch_size=8,
            embed_dim=64,
            depth=2,
            num_heads=4,
            num_classes=5,
            init_values=layer_scale,
            **kwargs))


def tiny_mmpretrain(layer_scale=0.0):
    from mmpretrain.models.backbones import VisionTransformer
    torch.manual_seed(0)
    model = VisionTransformer(
        arch=dict(
            embed_dims=64, num_layers=2, num_heads=4,
            feedforward_channels=256),
        img_size=32,
        patch_size=8,
        layer_scale_init_value=layer_scale,
        out_type='cls_token')
    model.init_weights()
    return perturb(model)
