# ZeroI2V on AVA v2.2 spatio-temporal action detection: CLIP ViT-B/16, 8
# frames, STDHA + linear adapters (merged after training), MMAction2's AVA
# detector (FastRCNN + AVARoIHead + BBoxHeadAVA on given person proposals).
# Paper (ZeroI2V, Table 7): 26.4 mAP vs 18.3 for plain CLIP features, no
# Kinetics pre-training. Setting of VideoMAE in MMAction2
# (configs/detection/videomae/): 80 classes trained, the 60 classes of the
# ActivityNet 2019 label map evaluated, frame mAP at IoU 0.5 (AVAMetric).
#
# Needs mmdet (pip install mmdet==3.3.0, the [ava] extra); mmcv-lite is
# enough (the RoIs are pooled with torchvision when mmcv.ops is missing).
# Data: MMAction2's layout, see tools/data/ava/README.md of MMAction2 and
# docs/en/user_guides/ava.md here.
_base_ = [
    '../../_base_/default_runtime.py',
    '../../_base_/schedules/adamw_cosine.py',
]

# zeroi2v_mm.models.detectors registers ZeroI2VFastRCNN and the RoI
# extractor (importing it needs no mmdet; building the detector does).
custom_imports = dict(
    imports=['zeroi2v_mm', 'zeroi2v_mm.models.detectors'],
    allow_failed_imports=False)

num_frames = 8
image_size = 224
patch_size = 16

model = dict(
    # MMDetection's FastRCNN (as `type='FastRCNN', _scope_='mmdet'` in
    # MMAction2's AVA configs), built after a clear check that mmdet is
    # installed. Its parts resolve in mmdet's scope: MMAction2 modules carry
    # the `mmaction.` prefix.
    type='ZeroI2VFastRCNN',
    backbone=dict(
        type='mmaction.ZeroI2VViT',
        arch='ViT-B/16',
        num_frames=num_frames,
        pretrained='checkpoints/clip/ViT-B-16.pt',
        act='quick_gelu',  # OpenAI CLIP weights were trained with QuickGELU
        stdha=dict(offsets=[(-1, 1), (1, 1)]),  # released head order
        adapters=dict(num_adapters=4, ratio=0.25, scale=0.5, dropout=0.1),
        freeze_pretrained=True,
        drop_path_rate=0.0,
        output='feature_map'),  # (N, 768, 8, 14, 14) after ln_post
    roi_head=dict(
        type='AVARoIHead',
        bbox_roi_extractor=dict(
            type='mmaction.ZeroI2VRoIExtractor3D',
            roi_layer_type='RoIAlign',
            featmap_stride=patch_size,
            output_size=8,
            with_temporal_pool=True),
        bbox_head=dict(
            type='BBoxHeadAVA',
            background_class=True,
            in_channels=768,
            num_classes=81,
            multilabel=True,
            dropout_ratio=0.5)),
    data_preprocessor=dict(
        type='mmaction.ActionDataPreprocessor',
        mean=[122.769, 116.74, 104.04],
        std=[68.493, 66.63, 70.321],
        format_shape='NCTHW'),
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssignerAVA',
                pos_iou_thr=0.9,
                neg_iou_thr=0.9,
                min_pos_iou=0.9),
            sampler=dict(
                type='RandomSampler',
                num=32,
                pos_fraction=1,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=1.0)),
    test_cfg=dict(rcnn=None))

# MMAction2's AVADataset, proposals read by a restricted unpickler and
# annotation lines checked (zeroi2v_mm/datasets/checked_ava_dataset.py).
dataset_type = 'CheckedAVADataset'
data_root = 'data/ava/rawframes'
anno_root = 'data/ava/annotations'

ann_file_train = f'{anno_root}/ava_train_v2.2.csv'
ann_file_val = f'{anno_root}/ava_val_v2.2.csv'
exclude_file_train = f'{anno_root}/ava_train_excluded_timestamps_v2.2.csv'
exclude_file_val = f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv'
label_file = f'{anno_root}/ava_action_list_v2.2_for_activitynet_2019.pbtxt'
proposal_file_train = (f'{anno_root}/ava_dense_proposals_train.FAIR.'
                       'recall_93.9.pkl')
proposal_file_val = f'{anno_root}/ava_dense_proposals_val.FAIR.recall_93.9.pkl'

# 8 frames, 8 apart (AVA rawframes are 30 fps: a 2.1 s clip around the
# keyframe). ZeroI2VViT keeps CLIP's fixed 14x14 position grid, so every
# clip is 224x224: the whole frame squashed to a square at test time (no
# person is cropped away), a random 224 crop of the squashed 256 frame in
# training. Boxes and proposals follow every resize, crop and flip.
train_pipeline = [
    dict(type='SampleAVAFrames', clip_len=num_frames, frame_interval=8),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(256, 256), keep_ratio=False),
    dict(type='RandomCrop', size=image_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(
        type='SampleAVAFrames',
        clip_len=num_frames,
        frame_interval=8,
        test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        exclude_file=exclude_file_train,
        pipeline=train_pipeline,
        label_file=label_file,
        proposal_file=proposal_file_train,
        data_prefix=dict(img=data_root)))
# MMAction2's AVARoIHead predicts one clip at a time.
val_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        exclude_file=exclude_file_val,
        pipeline=val_pipeline,
        label_file=label_file,
        proposal_file=proposal_file_val,
        data_prefix=dict(img=data_root),
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='AVAMetric',
    ann_file=ann_file_val,
    label_file=label_file,
    exclude_file=exclude_file_val)
test_evaluator = val_evaluator

# VideoMAE's AVA schedule (20 epochs, 5 of linear warm-up, cosine, batch 64
# = 8 GPUs x 8) with ZeroI2V's optimizer (AdamW 3e-4, weight decay 0.05 but
# none on norms and embeddings; only adapters, temporal embedding, ln_post
# and the box head train).
max_epochs = 20
warmup_epochs = 5
train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=1)
optim_wrapper = dict(clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
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
auto_scale_lr = dict(enable=False, base_batch_size=64)

default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='auto'),
    logger=dict(interval=50))
# Fold the adapters into the frozen linears after training, check the merged
# backbone against the trained one on validation clips, and write
# <work_dir>/zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb_merged.pth; test it
# with this config and --cfg-options model.backbone.adapters=None
# "custom_hooks=[]".
custom_hooks = [dict(type='MergeAdaptersHook', verify_batches=2)]
