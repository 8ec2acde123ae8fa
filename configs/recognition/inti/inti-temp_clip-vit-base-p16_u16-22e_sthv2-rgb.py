# InTI^temp_{5,7} on Something-Something V2 (InTI paper, Table 3: 234 GFLOPs,
# 174M, 69.3 top-1, 16 x 3 x 4 views), CLIP ViT-B/16, 16 frames.
#
# Model: UniFormerV2's SSv2 setting as the paper's UniFormerV2-B row
# (371 GFLOPs, 163M) implies it: local MHRA twice per block
# (dw_reduction 1.5) and eight global UniBlocks reading blocks 5-12; this
# reproduces 371.2 GFLOPs / 161.9M (docs/en/user_guides/configs.md "InTI").
#
# Recipe: the paper follows UniFormerV2's SSv2 configuration with the batch
# reduced from 128 to 64 for ViT-B. UniFormerV2's ssv2_b16_f16x224
# (exp/sthv2/ssv2_b16_f16x224/{run.sh,config.yaml} in OpenGVLab/UniFormerV2):
# AdamW lr 4e-5 for batch 128, wd 0.05 (none on 1-D parameters), 22 epochs,
# 5 warm-up epochs from 1e-6, cosine to 1e-6, backbone drop path 0.2, global
# blocks' drop path 0.4, RandAugment m7 n4 (mstd 0.5), random resized crop,
# no flip, no random erasing. Assumed where the paper is silent: lr 2e-5
# for its batch 64 (linear scaling); gradient clipping 20 (MMAction2's
# UniFormerV2 recipe; UniFormerV2's own code clips none: remove it to match
# it exactly). Label smoothing 0.1 is this package's SSv2 default.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

num_frames = 16
num_classes = 174
model = dict(
    _delete_=True,
    type='Recognizer3D',
    backbone=dict(
        type='UniFormerV2InTI',
        pretrained='checkpoints/clip/ViT-B-16.pt',
        input_resolution=224,
        patch_size=16,
        width=768,
        layers=12,
        heads=12,
        t_size=num_frames,
        backbone_drop_path_rate=0.2,
        dw_reduction=1.5,
        temporal_downsample=False,
        no_lmhra=False,
        double_lmhra=True,
        return_list=[4, 5, 6, 7, 8, 9, 10, 11],
        n_layers=8,
        n_dim=768,
        n_head=12,
        mlp_factor=4.0,
        drop_path_rate=0.4,
        mlp_dropout=[0.5] * 8,
        compress=dict(type='InTI', after_blocks=(5, 7))),
    cls_head=dict(
        type='UniFormerHead',
        dropout_ratio=0.5,
        num_classes=num_classes,
        in_channels=768,
        label_smooth_eps=0.1,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[122.769, 116.74, 104.04],
        std=[68.493, 66.63, 70.321],
        format_shape='NCTHW'))

# UniFormerV2's SSv2 training: no flip, no random erasing
train_pipeline = [
    dict(type='UniformSample', clip_len=num_frames)
    if step['type'] == 'UniformSample' else step
    for step in _base_.train_pipeline
    if step['type'] not in ('Flip', 'RandomErasing')
]
val_pipeline = [
    dict(type='UniformSample', clip_len=num_frames, test_mode=True)
    if step['type'] == 'UniformSample' else step
    for step in _base_.val_pipeline
]
# 4 temporal clips x 3 spatial crops, as the paper's Table 3
test_pipeline = [
    dict(
        type='UniformSample', clip_len=num_frames, num_clips=4, test_mode=True)
    if step['type'] == 'UniformSample' else step
    for step in _base_.test_pipeline
]
# 8 GPUs x 8 clips = 64 (the paper's ViT-B batch on SSv2)
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

max_epochs = 22
warmup_epochs = 5
lr = 2e-5
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    optimizer=dict(lr=lr, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=20, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / lr,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=64)
custom_hooks = []
