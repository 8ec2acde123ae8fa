# configs/recognition/linear_probe/linear-probe_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# on the synthetic temporal benchmark: frozen image model, no STDHA, no
# adapters; only the classifier trains.
_base_ = ['../../demo/zeroi2v_synthetic.py']

model = dict(backbone=dict(stdha=None, adapters=None))
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(
            temporal_embedding=dict(lr_mult=0.0, decay_mult=0.0),
            ln_post=dict(lr_mult=0.0, decay_mult=0.0))))
custom_hooks = []
