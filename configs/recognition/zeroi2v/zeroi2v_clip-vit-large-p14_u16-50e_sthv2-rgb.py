# ZeroI2V, CLIP ViT-L/14, Something-Something V2, 16 frames sampled uniformly.
# STDHA: Table 11's {1*2, -1*2, 2*2, -2*2} (8 of 16 heads) in the released
# order and sign: {-1: 2, 1: 2, -2: 2, 2: 2}. No released config for this
# setting (paper only); backbone lr x 0.1 as in the released ViT-L configs.
# Everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u16-50e_sthv2-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_u16-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
        with_cp=True,
        stdha=dict(_delete_=True, offsets=[(-1, 2), (1, 2), (-2, 2), (2, 2)])),
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
