# Linear probe (ZeroI2V Table 3): the CLIP ViT-B/16 stays frozen, without
# STDHA or adapters; only the classifier trains (the temporal embedding and
# ln_post, trainable in the frozen-backbone setting, are held by lr_mult 0).
# The prediction averages per-frame features. Nothing to merge.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(backbone=dict(stdha=None, adapters=None))
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(
            temporal_embedding=dict(lr_mult=0.0, decay_mult=0.0),
            ln_post=dict(lr_mult=0.0, decay_mult=0.0))))
custom_hooks = []
