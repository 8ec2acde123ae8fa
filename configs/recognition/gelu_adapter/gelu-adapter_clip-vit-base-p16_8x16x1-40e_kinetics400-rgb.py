# Adapters with GELU in ZeroI2V's dense placement (Table 3, "Adapter w/
# GELU"): 4 per block (before the qkv in-projection, after the attention
# out-projection, before MLP fc1, after MLP fc2), ratio 0.25 (192 wide),
# scale 0.5, dropout 0.1, with STDHA {-1: 1, 1: 1}. The GELU prevents
# merging: 14.2M new parameters and 1.16x the FLOPs stay at inference, so no
# MergeAdaptersHook.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        adapters=None,
        peft=dict(type='GELUAdapter', ratio=0.25, scale=0.5, dropout=0.1)))
custom_hooks = []
