# LoRA on the weights the linear adapters adapt (ZeroI2V Table 3), with STDHA
# {-1: 1, 1: 1} as ZeroI2V: a parallel rank-96 update on the packed qkv
# in-projection, the attention out-projection, MLP fc1 and fc2 of every block
# (14.2M trainable, the budget of the 4 dense linear adapters), scale alpha /
# rank = 0.5 and dropout 0.1 like the adapters. LoRA merges exactly into the
# frozen weights: MergeAdaptersHook writes <work_dir>/lora_k400_merged.pth,
# which is the plain CLIP ViT + STDHA and is tested with
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.py
# (same architecture).
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        adapters=None,
        peft=dict(
            type='LoRA',
            rank=96,
            alpha=48,
            dropout=0.1,
            targets=('in_proj', 'out_proj', 'c_fc', 'c_proj'))))
