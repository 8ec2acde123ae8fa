# ZeroI2V, CLIP ViT-L/14, Kinetics-400, 32 frames x interval 4 (paper: 87.2
# top-1), as the paper describes it: STDHA Table 11's {1*2, -1*2, 2*1, -2*1,
# 3*1} (7 of 16 heads) in this package's sign and the released head order: {-1:
# 2, 1: 2, -2: 1, 2: 1, -3: 1}; no random erasing (Table 12: K400 has none).
# The released CLIP-L_k400_32x4x1.py differs (6 temporal heads, random
# erasing):
# configs/recognition/zeroi2v/zeroi2v-released_clip-vit-large-p14_32x4x1-40e_kinetics400-rgb.py.
# Backbone lr x 0.1 as in the released ViT-L configs. Everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_32x4x1-40e_kinetics400-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_32x4x1-40e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
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
