# InTI alone on the synthetic benchmark: the image model fully fine-tuned with
# one InTI layer after block 2 (8 -> 4 frames), no STDHA, no adapters.
_base_ = ['zeroi2v_synthetic.py']

model = dict(
    backbone=dict(
        stdha=None,
        adapters=None,
        freeze_pretrained=False,
        compress=dict(type='InTI', after_blocks=(2, ))))
optim_wrapper = dict(optimizer=dict(lr=3e-4))
custom_hooks = []
