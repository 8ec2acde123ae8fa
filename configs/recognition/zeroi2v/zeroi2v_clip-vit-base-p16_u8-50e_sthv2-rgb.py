# ZeroI2V, CLIP ViT-B/16, Something-Something V2, 8 frames sampled uniformly
# over the whole video (paper: 67.7 top-1 with 8x3x1 views, i.e. 1 temporal
# x 3 spatial). Paper Tables 11-12: STDHA {1*1, -1*1} (released head order
# and sign: {-1: 1, 1: 1}), 6 linear adapters per block (Q, K and V each get
# their own), adapter dropout 0 and scale 1, RandAugment m7 n4, random
# erasing 0.25, label smoothing 0.1, flip with the left/right label swap, 50
# epochs. No released config for this setting; the pipeline, erasing mode and
# schedule are those of the released CLIP-B_sthv2_u16.py. 8 GPUs x 8 clips =
# total batch 64.
_base_ = [
    '../../_base_/default_runtime.py',
    '../../_base_/models/zeroi2v_vit_b16.py',
    '../../_base_/schedules/adamw_cosine.py',
]

num_frames = 8
model = dict(
    backbone=dict(
        num_frames=num_frames,
        stdha=dict(_delete_=True, offsets=[(-1, 1), (1, 1)]),
        adapters=dict(num_adapters=6, ratio=0.25, scale=1.0, dropout=0.0)),
    cls_head=dict(num_classes=174, label_smooth_eps=0.1))

dataset_type = 'CheckedVideoDataset'
# labels outside [0, num_classes) are an error at dataset load (file, line)
num_classes = 174
data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'
data_hint = ('Something-Something V2 goes under data/sthv2/ in MMAction2\'s '
             'layout (videos/, sthv2_{train,val}_list_videos.txt): see '
             'MMAction2\'s tools/data/sthv2/README.md to download and '
             'prepare it.')

# Classes whose meaning swaps under a horizontal flip ("... from left to
# right" <-> "... from right to left"), as in MMAction2's sthv2 configs
# (e.g. configs/recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x8-
# 50e_sthv2-rgb.py). The indices are those of MMAction2's label list
# (tools/data/sthv2): check them against your annotation files.
sthv2_flip_label_map = {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=sthv2_flip_label_map),
    # RandAugment m7 n4 with the released (pytorchvideo) semantics, one draw
    # per clip, after the flip as in the released SSv2 configs.
    dict(type='VideoRandAugment', magnitude=7, num_layers=4),
    # The released SSv2 configs' RandomErasing(erase_prob=0.25): MMAction2's
    # default 'const' mode (grey 128 fill).
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='const',
        fill_color=(128, 128, 128)),
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
# 1 temporal x 3 spatial views (paper Table 12)
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames, test_mode=True),
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

# 50 epochs (paper Table 12), the released warm-up (0.1 -> 1 over 2.5
# epochs, per iteration) with a per-epoch cosine over all 50.
max_epochs = 50
warmup_epochs = 2.5
train_cfg = dict(max_epochs=max_epochs)
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
        T_max=max_epochs,
        eta_min=0,
        by_epoch=True,
        begin=0,
        end=max_epochs),
]

default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'),
    logger=dict(interval=50))
# Fold the adapters into the frozen linears after training and verify the
# merged model (as every ZeroI2V config).
custom_hooks = [dict(type='MergeAdaptersHook', verify_batches=2)]
