# ZeroI2V, CLIP ViT-L/14, Something-Something V2, 8 frames sampled uniformly.
# STDHA {-1: 2, 1: 2} (Table 11's {1*2, -1*2}: 4 of 16 heads, released order
# and sign), 4 adapters per block (6 only for the 8-frame ViT-B), backbone lr x
# 0.1 as in the released ViT-L configs. No released config for this setting
# (paper only). Everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
        adapters=dict(num_adapters=4),
        stdha=dict(_delete_=True, offsets=[(-1, 2), (1, 2)])),
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
