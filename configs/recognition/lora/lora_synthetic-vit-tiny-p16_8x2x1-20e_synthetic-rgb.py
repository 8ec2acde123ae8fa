# configs/recognition/lora/lora-r96-all_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# on the synthetic temporal benchmark: STDHA {-1: 2, 1: 2} as ZeroI2V, LoRA of
# rank C/8 = 16 on qkv, out, fc1, fc2 (the parameter budget of the 4 linear
# adapters), scale 1 like the demo's adapters. Merged after training by
# MergeAdaptersHook (test the merged file with
# configs/demo/zeroi2v_synthetic_merged.py).
_base_ = ['../../demo/zeroi2v_synthetic.py']

model = dict(
    backbone=dict(
        adapters=None,
        peft=dict(
            type='LoRA',
            rank=16,
            alpha=16,
            dropout=0.0,
            targets=('in_proj', 'out_proj', 'c_fc', 'c_proj'))))
