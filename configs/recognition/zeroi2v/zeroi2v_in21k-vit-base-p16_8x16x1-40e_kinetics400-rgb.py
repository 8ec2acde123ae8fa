# ZeroI2V on an ImageNet-21K ViT-B/16, Kinetics-400, 8 frames x interval 16, 40
# epochs (paper Table 13: 78.6 top-1 with 8x1x3 views, 422 GFLOPs, 86M
# parameters, 0 new after merging). The paper: "the same model and training
# settings" as with CLIP, so everything but the image model is
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# (STDHA {-1: 1, 1: 1}, 4 adapters s0.5 p0.1, the released
# CLIP-B_k400_8x16x1.py recipe).
#
# The image model is timm's vit_base_patch16_224.augreg_in21k (the paper does
# not name its IN21K file): timm layout (no pre-norm, patch-embedding bias,
# LayerNorm eps 1e-6, GELU, final norm = ln_post), normalised with mean = std
# = 0.5 as it was trained. Save it once where timm can download it:
#   python -c "import timm, torch; m = timm.create_model(
#     'vit_base_patch16_224.augreg_in21k', pretrained=True);
#     torch.save(m.state_dict(),
#                'checkpoints/timm/vit_base_patch16_224.augreg_in21k.pth')"
# The state dict loads as it is (its 21843-class head is dropped);
# tools/convert_weights.py SRC OUT writes the backbone checkpoint and prints
# the style it found.
_base_ = ['zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        style='timm',
        act='gelu',
        pretrained='checkpoints/timm/vit_base_patch16_224.augreg_in21k.pth'),
    data_preprocessor=dict(
        mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]))
