# ST-Adapter (Pan et al., NeurIPS 2022) on CLIP ViT-B/16, Something-Something
# V2, 8 frames: two adapters per block, before the attention and before the MLP
# (24 x 384), as the released SSv2 model clip_vit_base_patch16_adapter24x384
# (linziyi96/st-adapter). No STDHA, no linear adapters; the ZeroI2V SSv2 recipe
# (configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py),
# not ST-Adapter's own. Nothing merges, so no MergeAdaptersHook.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        stdha=None,
        adapters=None,
        peft=dict(
            type='STAdapter',
            channels=384,
            kernel_size=(3, 1, 1),
            positions=('attn', 'mlp'))))
custom_hooks = []
