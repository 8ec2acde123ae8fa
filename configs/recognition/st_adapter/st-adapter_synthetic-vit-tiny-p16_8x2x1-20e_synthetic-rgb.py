# configs/recognition/st_adapter/st-adapter_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
# on the synthetic temporal benchmark: one ST-Adapter per block before the MLP,
# bottleneck C/2 = 64, depth-wise Conv3d (3, 1, 1); no STDHA.
_base_ = ['../../demo/zeroi2v_synthetic.py']

model = dict(
    backbone=dict(
        stdha=None,
        adapters=None,
        peft=dict(
            type='STAdapter',
            channels=64,
            kernel_size=(3, 1, 1),
            positions=('mlp', ))))
custom_hooks = []
