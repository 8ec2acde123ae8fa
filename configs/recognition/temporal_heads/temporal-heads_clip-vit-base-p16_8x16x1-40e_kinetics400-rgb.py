# Temporal-heads-only tuning (ZeroI2V Table 3, "Only tuning temporal head"):
# STDHA {-1: 1, 1: 1}; of the frozen CLIP ViT-B/16 only the Q, K, V rows (and
# bias entries) of the 2 temporal heads in each in-projection and their columns
# of the out-projection train: 4.7M parameters (paper: 4.6M), held as
# zero-initialised updates next to the frozen weights
# (zeroi2v_mm/models/peft/lora.py, HeadDeltaLinear), so only those slices can
# change, whatever the optimiser. The updates merge exactly: MergeAdaptersHook
# writes <work_dir>/temporal_heads_k400_merged.pth, the plain CLIP ViT + STDHA,
# tested with
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.py.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(backbone=dict(adapters=None, peft=dict(type='TemporalHeads')))
