# ZeroI2V, CLIP ViT-B/16, Kinetics-400, 8 frames x interval 16 (paper: 83.0
# top-1 with 8x3x1 views). 8 GPUs x 8 clips = total batch 64. Recipe of the
# released CLIP-B_k400_8x16x1.py (MCG-NJU/ZeroI2V) = paper Table 12; every
# value is listed in docs/en/user_guides/configs.md and checked by
# tests/configs/test_recipes.py.
_base_ = [
    '../../_base_/default_runtime.py',
    '../../_base_/models/zeroi2v_vit_b16.py',
    '../../_base_/schedules/adamw_cosine.py',
]

num_frames = 8
model = dict(
    backbone=dict(num_frames=num_frames), cls_head=dict(num_classes=400))

dataset_type = 'CheckedVideoDataset'
# labels outside [0, num_classes) are an error at dataset load (file, line)
num_classes = 400
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
data_hint = ('Kinetics-400 goes under data/kinetics400/ in MMAction2\'s '
             'layout (videos_train/, videos_val/, kinetics400_{train,val}_'
             'list_videos.txt): see MMAction2\'s tools/data/kinetics/'
             'README.md to download and prepare it.')

train_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        clip_len=num_frames,
        frame_interval=16,
        num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    # RandAugment m7 n4 with the released (pytorchvideo) semantics, between
    # the resize and the crop as released.
    dict(type='VideoRandAugment', magnitude=7, num_layers=4),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        clip_len=num_frames,
        frame_interval=16,
        num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# 3 temporal x 1 spatial views (paper Table 12)
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        clip_len=num_frames,
        frame_interval=16,
        num_clips=3,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        data_hint=data_hint,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        data_hint=data_hint,
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        data_hint=data_hint,
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'),
    logger=dict(interval=50))
custom_hooks = [dict(type='MergeAdaptersHook', verify_batches=2)]
