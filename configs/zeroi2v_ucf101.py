# ZeroI2V, CLIP ViT-B/16, UCF101 split 1 (paper Table 6: 95.6 top-1, mean of
# the 3 splits; 97.7 starting from a K400-trained ZeroI2V). The paper gives
# no separate recipe for UCF101/HMDB51: this is the K400 one (Table 12)
# with 8 frames x interval 8 (the clips are short: ~7 s on average for
# UCF101, ~3 s for HMDB51) and 30 epochs. Splits 2 and 3:
# configs/zeroi2v_ucf101_split{2,3}.py.
# To start from a K400-trained model instead of CLIP:
#   --cfg-options model.backbone.pretrained=work_dirs/zeroi2v_k400/best.pth
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/zeroi2v_vit_b16.py',
    '_base_/schedules/adamw_cosine.py',
]

num_frames = 8
frame_interval = 8
split = 1  # the ann files below; split 2 and 3 have their own configs
model = dict(backbone=dict(num_frames=num_frames),
             cls_head=dict(num_classes=101))

dataset_type = 'CheckedVideoDataset'
data_root = 'data/ucf101/videos'
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_videos.txt'
ann_file_val = f'data/ucf101/ucf101_val_split_{split}_videos.txt'
data_hint = ('UCF101 goes under data/ucf101/ in MMAction2\'s layout '
             '(videos/<class>/*.avi, ucf101_{train,val}_split_{1,2,3}_'
             'videos.txt): see MMAction2\'s tools/data/ucf101/README.md to '
             'download and prepare it.')

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# 3 temporal x 1 spatial views, as for K400
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=3, test_mode=True),
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
    dataset=dict(type=dataset_type, ann_file=ann_file_train,
                 data_prefix=dict(video=data_root), data_hint=data_hint,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val,
                 data_prefix=dict(video=data_root), data_hint=data_hint,
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val,
                 data_prefix=dict(video=data_root), data_hint=data_hint,
                 pipeline=test_pipeline, test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

max_epochs = 30
warmup_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]

default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'),
    logger=dict(interval=50))
