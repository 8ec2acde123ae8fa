# Merged-inference variant of zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb.py:
# the same model with its linear adapters folded into the frozen linears
# (model.backbone.adapters=None): a plain CLIP ViT-L/14 + STDHA, the image
# model's FLOPs. For a checkpoint merged here (MergeAdaptersHook,
# tools/merge_adapters.py) or the released ViT-L/14 SSv2 32f model after
# tools/weight_reparam.py of the official code and
# tools/convert_official_checkpoint.py
# (docs/en/user_guides/official_checkpoints.md):
#   CONFIG=configs/recognition/zeroi2v/zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb_merged.py
#   mim test mmaction $CONFIG --checkpoint MERGED.pth
_base_ = ['./zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb.py']

# The checkpoint holds every weight: no CLIP file needs to be present.
model = dict(backbone=dict(adapters=None, pretrained=None))
custom_hooks = []
