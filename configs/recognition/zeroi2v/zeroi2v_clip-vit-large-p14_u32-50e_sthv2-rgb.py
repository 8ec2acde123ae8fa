# ZeroI2V, CLIP ViT-L/14, Something-Something V2, 32 frames sampled
# uniformly (paper: 72.2 top-1): the released CLIP-L_sthv2_u32.py. STDHA
# {-1: 2, 1: 2, -2: 1, 2: 1, -3: 1} (stdha_long shift1_div=8, shift2_div=16,
# shift3_div=16 left; Table 11's {1*2, -1*2, 2*1, -2*1, 3*1}: 7 of 16 heads),
# 4 adapters per block with scale 1 and dropout 0.1 (the released default;
# the ViT-B SSv2 configs use 0), backbone lr x 0.1. Everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u32-50e_sthv2-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_u32-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
        adapters=dict(dropout=0.1),
        stdha=dict(
            _delete_=True, offsets=[(-1, 2), (1, 2), (-2, 1), (2, 1),
                                    (-3, 1)])),
    cls_head=dict(in_channels=1024))

# Released ViT-L configs train the backbone's trainable parts (adapters,
# temporal embedding, ln_post) at lr x 0.1 and the head at the full lr.
# MMEngine applies only the longest matching key, so the no-decay keys are
# repeated with the lr_mult.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'backbone.temporal_embedding': dict(lr_mult=0.1, decay_mult=0.0),
            'backbone.positional_embedding': dict(lr_mult=0.1, decay_mult=0.0),
            'backbone.class_embedding': dict(lr_mult=0.1, decay_mult=0.0),
            'backbone.ln_post': dict(lr_mult=0.1, decay_mult=0.0),
        }))
