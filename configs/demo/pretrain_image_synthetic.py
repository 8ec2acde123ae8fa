# Image pretraining for the synthetic demo, with mmpretrain: a small
# CLIP-style ViT (the architecture of configs/demo/zeroi2v_synthetic.py)
# learns to say what is in a still image and where (36 classes: shape x cell
# of a 3 x 3 grid) from 4 x 4 patches of 16 px. It plays the "pre-trained
# image model" that ZeroI2V then adapts to video; it never sees motion.
#
#   python tools/data/make_synthetic_videos.py --out data/synthetic \
#       --images-per-class 120
#   mim train mmpretrain configs/demo/pretrain_image_synthetic.py \
#       --work-dir work_dirs/pretrain_image_synthetic
#   python tools/demo/export_image_backbone.py \
#       work_dirs/pretrain_image_synthetic \
#       work_dirs/pretrain_image_synthetic/pretrained_image_vit.pth
#
# The exported file is what the video configs load with
# model.backbone.pretrained.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['zeroi2v_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

data_root = 'data/synthetic/images'
# CLIP normalisation, as in the video configs; images are read as BGR.
mean = [122.769, 116.74, 104.04]
std = [68.493, 66.63, 70.321]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ZeroI2VImageViT',
        arch=dict(width=128, layers=4, heads=8, patch_size=16, image_size=64),
        act='gelu',
        # Position must survive ln_pre for the "where" half of the labels
        # to be learnable in minutes (see ZeroI2VImageViT).
        pos_embed_std=1.0,
        pretrained=None),
    head=dict(
        type='LinearClsHead',
        num_classes=36,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=36,
        mean=mean,
        std=std,
        to_rgb=True))

# No flips: the labels say left / right and top / bottom.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# The batch these settings were tuned at (one process, no accumulation):
# --auto-scale-lr scales the lr by (GPUs x batch_size) / base_batch_size.
auto_scale_lr = dict(enable=False, base_batch_size=64)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

max_epochs = 6
warmup_epochs = 1
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'positional_embedding': dict(decay_mult=0.0),
            'class_embedding': dict(decay_mult=0.0),
        }),
    clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=1, save_best='auto'))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
