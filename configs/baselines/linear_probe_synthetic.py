# configs/baselines/linear_probe_k400.py on the synthetic temporal benchmark:
# frozen image model, no STDHA, no adapters; only the classifier trains.
_base_ = ['../demo/zeroi2v_synthetic.py']

model = dict(backbone=dict(stdha=None, adapters=None))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(
    temporal_embedding=dict(lr_mult=0.0, decay_mult=0.0),
    ln_post=dict(lr_mult=0.0, decay_mult=0.0))))
custom_hooks = []
