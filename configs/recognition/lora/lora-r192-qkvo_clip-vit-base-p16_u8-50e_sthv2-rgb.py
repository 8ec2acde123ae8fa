# LoRA row "14M tunable, bottleneck width 192" of ZeroI2V Table 3 (SSv2, CLIP
# ViT-B/16, 8 frames, STDHA {-1: 1, 1: 1} as every row of that table). The
# table's checkmarks (which weights) did not survive in the paper text; the
# targets are derived from the parameter count. A rank-r LoRA on a (out x in)
# weight has r x (in + out) parameters; ViT-B/16 has 12 blocks of width 768
# (MLP 3072). This row: Q, K, V (each its own LoRA) and the out-projection: 4 x
# 192 x (768 + 768) x 12 = 14.16M. (Packed QKV + out would be 10.6M.) Recipe:
# the ZeroI2V SSv2 one
# (configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py;
# Table 3's rows share it); LoRA scale alpha / r = 1 and dropout 0 like the
# SSv2 adapters (our assumption: the paper gives neither). Merged after
# training by MergeAdaptersHook, like ZeroI2V.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        adapters=None,
        peft=dict(
            type='LoRA',
            rank=192,
            alpha=192,
            dropout=0.0,
            targets=('in_proj', 'out_proj'),
            split_qkv=True)))
