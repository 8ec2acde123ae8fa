# configs/recognition/full_finetune/full-finetune_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# on the synthetic temporal benchmark: everything trains, STDHA {-1: 2, 1: 2},
# no adapters, lr / 10 (2e-4). (configs/demo/finetune_synthetic.py is the same
# without STDHA.)
_base_ = ['../../demo/zeroi2v_synthetic.py']

model = dict(backbone=dict(adapters=None, freeze_pretrained=False))
optim_wrapper = dict(optimizer=dict(lr=2e-4))
custom_hooks = []
