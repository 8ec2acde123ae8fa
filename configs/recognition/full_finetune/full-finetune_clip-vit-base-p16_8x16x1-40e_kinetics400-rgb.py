# Full fine-tuning (ZeroI2V Table 3): every weight of CLIP ViT-B/16 trains,
# with STDHA {-1: 1, 1: 1} and no adapters, at a tenth of the learning rate
# (3e-5; the paper: lr / 10 to avoid collapse). Nothing to merge.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(backbone=dict(adapters=None, freeze_pretrained=False))
optim_wrapper = dict(optimizer=dict(lr=3e-5))
custom_hooks = []
