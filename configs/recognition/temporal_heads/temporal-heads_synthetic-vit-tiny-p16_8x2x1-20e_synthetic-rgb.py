# configs/recognition/temporal_heads/temporal-heads_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# on the synthetic temporal benchmark: STDHA {-1: 2, 1: 2}; only the 4 temporal
# heads' Q/K/V rows and out-projection columns train (plus temporal embedding,
# ln_post, head). Merged after training by MergeAdaptersHook.
_base_ = ['../../demo/zeroi2v_synthetic.py']

model = dict(backbone=dict(adapters=None, peft=dict(type='TemporalHeads')))
