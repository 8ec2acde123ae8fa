# AIM (Yang et al., ICLR 2023) on CLIP ViT-B/16, K400, 8 frames, trained with
# the ZeroI2V K400 recipe (AIM's own recipe:
# aim-released_clip-vit-base-p16_8x16x1-30e_kinetics400-rgb.py): the frozen
# image model gains a temporal attention pass per block (the block's own
# attention and ln_1 over time), T-adapters (in, with skip; out, without), an
# S-adapter after the spatial attention and a parallel MLP-adapter (s = 0.5);
# GELU adapters of ratio 0.25. No STDHA: AIM models time with its own attention
# pass. Costs (tools/benchmark.py): 1.48x the image ViT's GFLOPs (ZeroI2V Table
# 4: 624 vs 422), 14.2M new parameters at inference. Nothing merges, so no
# MergeAdaptersHook.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        stdha=None,
        adapters=None,
        peft=dict(type='AIM', ratio=0.25, scale=0.5, num_tadapter=2)))
custom_hooks = []
