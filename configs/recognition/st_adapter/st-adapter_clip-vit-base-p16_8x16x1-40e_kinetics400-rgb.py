# ST-Adapter (Pan et al., NeurIPS 2022) on CLIP ViT-B/16, K400, 8 frames: one
# adapter per block on the patch tokens before the MLP (CLS bypasses), as the
# released K400 model clip_vit_base_patch16_adapter12x384 (linziyi96/
# st-adapter): Linear 768 -> 384, depth-wise Conv3d (3, 1, 1), Linear back;
# conv zero-initialised. No STDHA: the adapter's convolution models time. 1.08x
# the image ViT's GFLOPs (ZeroI2V Table 4: 455 vs 422), 7.1M new parameters.
# The ZeroI2V K400 recipe
# (configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py),
# not ST-Adapter's own. Nothing merges, so no MergeAdaptersHook.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        stdha=None,
        adapters=None,
        peft=dict(
            type='STAdapter',
            channels=384,
            kernel_size=(3, 1, 1),
            positions=('mlp', ))))
custom_hooks = []
