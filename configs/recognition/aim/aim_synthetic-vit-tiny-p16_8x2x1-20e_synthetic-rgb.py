# configs/recognition/aim/aim_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# on the synthetic temporal benchmark (the small CLIP-style ViT of
# configs/demo/zeroi2v_synthetic.py): AIM's temporal attention pass, T/S/MLP
# GELU adapters (ratio 0.25, MLP scale 0.5), no STDHA.
_base_ = ['../../demo/zeroi2v_synthetic.py']

model = dict(
    backbone=dict(
        stdha=None,
        adapters=None,
        peft=dict(type='AIM', ratio=0.25, scale=0.5, num_tadapter=2)))
custom_hooks = []
