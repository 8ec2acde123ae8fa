# ZeroI2V on Swin-B (ImageNet-21K), Something-Something V2, 32 frames: paper
# Table 14 ("ZeroI2V Swin-B", IN21K, 32x3x1 views, 741 GFLOPs, 89M
# parameters, 14M tunable, 67.8 top-1). No released code or config for Swin.
#
# Backbone (paper appendix, Table 11(e) and its note): a 2D Swin-B run per
# frame with window attention; "its input length is halved after patch
# embedding (from 32 frames to 16)", i.e. Video Swin's (2, 4, 4) patch
# embedding (tubelet=2, inflated from the 2D weights as Video Swin does).
# STDHA gives 1/4 of the heads of every stage a temporal offset; Table
# 11(e)'s {1*1}, {1*1, -1*1}, {1*1, -1*1, 2*1, -2*1}, {1*2, -1*2, 2*2, -2*2}
# in this package's sign and the released head order (t-1 first, then t+1,
# t-2, t+2; see docs/en/user_guides/configs.md "STDHA: sign and head order"). 4
# linear adapters per block (ratio 0.25; SSv2: scale 1, dropout 0).
#
# Recipe: paper Table 12 for SSv2 (the CLIP configs' recipe, as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py:
# AdamW 3e-4, wd 0.05, batch 64, 50 epochs, uniform sampling, 1 temporal x 3
# spatial test views, RandAugment m7 n4, flip with the label swap, erasing
# 0.25, label smoothing 0.1), with ImageNet normalisation for the Swin weights.
# 32 frames sampled uniformly (u32, as MMAction2's UniFormerV2 configs name
# UniformSample).
#
# Weights: Microsoft's ImageNet-21K Swin-B (swin_base_patch4_window7_224_22k)
# as OpenMMLab converted it to mmpretrain keys, swin-base_3rdparty_in21k.pth
# (download.openmmlab.com/mmclassification/v0/swin-transformer/convert/), or
# any mmpretrain Swin-B checkpoint (ImageClassifier, backbone.* keys).
_base_ = ['zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

num_frames = 32
model = dict(
    backbone=dict(
        _delete_=True,
        type='ZeroI2VSwin',
        arch='base',
        num_frames=num_frames,
        tubelet=2,
        img_size=224,
        patch_size=4,
        window_size=7,
        pretrained='checkpoints/swin/swin-base_3rdparty_in21k.pth',
        stdha=dict(offsets=[
            [(-1, 1)],
            [(-1, 1), (1, 1)],
            [(-1, 1), (1, 1), (-2, 1), (2, 1)],
            [(-1, 2), (1, 2), (-2, 2), (2, 2)],
        ]),
        adapters=dict(num_adapters=4, ratio=0.25, scale=1.0, dropout=0.0),
        freeze_pretrained=True,
        drop_path_rate=0.0,
        with_cp=True),
    cls_head=dict(in_channels=1024),
    # ImageNet normalisation (the Swin weights'), RGB in 0..255
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))

# The base pipelines with UniformSample taking 32 frames.
train_pipeline, val_pipeline, test_pipeline = [[
    dict(step, clip_len=num_frames)
    if step['type'] == 'UniformSample' else step for step in pipeline
] for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                   _base_.test_pipeline)]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
