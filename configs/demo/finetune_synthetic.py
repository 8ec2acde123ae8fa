# Full fine-tuning on the synthetic temporal benchmark: every weight of the
# pre-trained image model trains, without STDHA or adapters; only the
# trainable temporal embedding tells frames apart. Paper (ZeroI2V Sec. 6.1):
# full fine-tuning uses 1/10 of the learning rate to avoid collapse.
_base_ = ['zeroi2v_synthetic.py']

model = dict(backbone=dict(stdha=None, adapters=None, freeze_pretrained=False))
optim_wrapper = dict(optimizer=dict(lr=2e-4))
# No adapters, nothing to merge: drop the base config's MergeAdaptersHook.
custom_hooks = []
