# LoRA row "7M tunable, bottleneck width 192" of ZeroI2V Table 3 (SSv2, CLIP
# ViT-B/16, 8 frames, STDHA {-1: 1, 1: 1} as every row of that table). The
# table's checkmarks (which weights) did not survive in the paper text; the
# targets are derived from the parameter count. A rank-r LoRA on a (out x in)
# weight has r x (in + out) parameters; ViT-B/16 has 12 blocks of width 768
# (MLP 3072). This row: the packed Q, K, V in-projection (one LoRA shared by Q,
# K, V, the table's "shared" mark): 192 x (768 + 3 x 768) x 12 blocks = 7.08M.
# Two separate square weights (e.g. Q and V) would count the same; the table's
# text does not say which. Recipe: the ZeroI2V SSv2 one
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
            targets=('in_proj', ))))
