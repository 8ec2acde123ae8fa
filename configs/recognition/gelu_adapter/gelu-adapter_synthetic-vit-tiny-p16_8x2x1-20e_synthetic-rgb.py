# configs/recognition/gelu_adapter/gelu-adapter_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# on the synthetic temporal benchmark: 4 GELU adapters per block in the dense
# placement (ratio 0.25, scale 1 like the demo's linear adapters), STDHA {-1:
# 2, 1: 2}. Not mergeable.
_base_ = ['../../demo/zeroi2v_synthetic.py']

model = dict(
    backbone=dict(
        adapters=None,
        peft=dict(type='GELUAdapter', ratio=0.25, scale=1.0, dropout=0.0)))
custom_hooks = []
