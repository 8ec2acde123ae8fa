# Merged-inference variant of
# zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py: the same model with
# its linear adapters folded into the frozen linears
# (model.backbone.adapters=None): a plain CLIP ViT-B/16 + STDHA, 140.7 GFLOPs
# per 8-frame view, like the image model. For the
# <work_dir>/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.pth
# that MergeAdaptersHook (or tools/merge_adapters.py) writes:
#   CONFIG=configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.py
#   WORK=work_dirs/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb
#   mim test mmaction $CONFIG --checkpoint \
#       $WORK/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.pth
# Unmerged checkpoints are refused with a message saying how to merge them.
_base_ = ['./zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

# The checkpoint holds every weight: no CLIP file needs to be present.
model = dict(backbone=dict(adapters=None, pretrained=None))
custom_hooks = []
