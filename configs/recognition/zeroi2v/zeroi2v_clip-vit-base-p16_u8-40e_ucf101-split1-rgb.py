# ZeroI2V, CLIP ViT-B/16, UCF101 split 1 (paper Table 6: 95.6 top-1, mean of
# the 3 splits; 97.7 starting from a K400-trained ZeroI2V): the released
# CLIP-B_ucf101_u8_split1.py (MCG-NJU/ZeroI2V). 8 frames sampled uniformly over
# the video, RandAugment m7 n4 between the resize and the crop, no random
# erasing, no label smoothing, STDHA {-1: 1, 1: 1}, 4 adapters (scale 0.5,
# dropout 0.1), 40 epochs with the released warm-up, 1 temporal x 3 spatial
# test views (ThreeCrop). Splits 2 and 3: configs/zeroi2v_ucf101_split{2,3}.py;
# 32 frames:
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u32-40e_ucf101-split1-rgb.py.
# To start from a K400-trained model instead of CLIP:
#   --cfg-options \
#       model.backbone.pretrained=work_dirs/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb/best.pth
_base_ = [
    '../../_base_/default_runtime.py',
    '../../_base_/models/zeroi2v_vit_b16.py',
    '../../_base_/schedules/adamw_cosine.py',
]

num_frames = 8
split = 1  # the ann files below; split 2 and 3 have their own configs
model = dict(
    backbone=dict(num_frames=num_frames), cls_head=dict(num_classes=101))

dataset_type = 'CheckedVideoDataset'
# labels outside [0, num_classes) are an error at dataset load (file, line)
num_classes = 101
data_root = 'data/ucf101/videos'
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_videos.txt'
ann_file_val = f'data/ucf101/ucf101_val_split_{split}_videos.txt'
data_hint = ('UCF101 goes under data/ucf101/ in MMAction2\'s layout '
             '(videos/<class>/*.avi, ucf101_{train,val}_split_{1,2,3}_'
             'videos.txt): see MMAction2\'s tools/data/ucf101/README.md to '
             'download and prepare it.')

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='VideoRandAugment', magnitude=7, num_layers=4),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# 1 temporal x 3 spatial views, as released
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='UniformSample', clip_len=num_frames, num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
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
        data_prefix=dict(video=data_root),
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
        data_prefix=dict(video=data_root),
        data_hint=data_hint,
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

# 40 epochs as released (the base schedule: warm-up over 2.5 epochs, cosine
# over all 40); validation every epoch (small datasets).
train_cfg = dict(max_epochs=40, val_interval=1)

default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'),
    logger=dict(interval=50))
