# Merged-inference variant of zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py:
# backbone adapters folded (adapters=None), for the
# <work_dir>/zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb_merged.pth that
# MergeAdaptersHook or tools/merge_adapters.py writes. The detection head is
# untouched by the merge.
_base_ = ['./zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py']

model = dict(backbone=dict(adapters=None, pretrained=None))
custom_hooks = []
