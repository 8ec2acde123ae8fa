# ST-Adapter (Pan et al., NeurIPS 2022) on CLIP ViT-B/16, Something-Something
# V2, 8 frames: two adapters per block, before the attention and before the
# MLP (24 x 384), as the released SSv2 model
# clip_vit_base_patch16_adapter24x384 (linziyi96/st-adapter). No STDHA, no
# linear adapters; the ZeroI2V SSv2 recipe (configs/zeroi2v_ssv2.py), not
# ST-Adapter's own. Nothing merges, so no MergeAdaptersHook.
_base_ = ['../zeroi2v_ssv2.py']

model = dict(
    backbone=dict(
        stdha=None,
        adapters=None,
        peft=dict(type='STAdapter', channels=384, kernel_size=(3, 1, 1),
                  positions=('attn', 'mlp'))))
custom_hooks = []
