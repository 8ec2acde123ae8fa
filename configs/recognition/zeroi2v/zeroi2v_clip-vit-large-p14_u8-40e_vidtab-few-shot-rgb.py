# ZeroI2V, CLIP ViT-L/14, one task of a VidTAB-style few-shot benchmark
# (ZeroI2V paper Table 8: VidTAB, 8 tasks, ZeroI2V-CLIP-L average 46.5).
# The paper gives the tasks and the results, not the recipe, the shot count
# or the class counts: this recipe is assumed, the released small-dataset
# recipe (CLIP-B_ucf101_u8_split1.py: 8 frames sampled uniformly, RandAugment
# m7 n4, 40 epochs, 1x3 test views) with the released ViT-L settings
# (CLIP-L_k400_8x16x1.py: STDHA {-1: 2, 1: 2}, 4 adapters, backbone lr x 0.1).
#
# Training data: a K-shot subset made by tools/data/make_few_shot_split.py;
# the data layout and a per-task config (task name, K, seed, num_classes from
# the split's manifest) are in docs/en/user_guides/few_shot.md. This file is
# that per-task config's base: its own task, K and num_classes are
# placeholders, and a label >= num_classes stops at data load, naming the file
# and line.
_base_ = [
    '../../_base_/default_runtime.py',
    '../../_base_/models/zeroi2v_vit_b16.py',
    '../../_base_/schedules/adamw_cosine.py',
]

task = 'TASK'  # the folder under data/vidtab/
shots = 16  # K of the training subset (assumed; the paper does not say)
seed = 0  # its seed
num_classes = 2  # the manifest's num_classes (set it per task)
num_frames = 8

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        num_frames=num_frames,
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
        stdha=dict(_delete_=True, offsets=[(-1, 2), (1, 2)])),
    cls_head=dict(in_channels=1024, num_classes=num_classes))

dataset_type = 'CheckedVideoDataset'
data_root = f'data/vidtab/{task}/videos'
ann_file_train = f'data/vidtab/{task}/train_{shots}shot_seed{seed}.txt'
ann_file_val = f'data/vidtab/{task}/val.txt'
ann_file_test = f'data/vidtab/{task}/test.txt'
data_hint = ('VidTAB-style task data goes under data/vidtab/<task>/ '
             '(videos/, train.txt, val.txt, test.txt; the K-shot training '
             'list from tools/data/make_few_shot_split.py) and num_classes '
             "is the split manifest's num_classes: see "
             'docs/en/user_guides/few_shot.md.')

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

dataset = dict(
    type=dataset_type,
    num_classes=num_classes,
    data_prefix=dict(video=data_root),
    data_hint=data_hint)
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, ann_file=ann_file_train, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset, ann_file=ann_file_val, pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        ann_file=ann_file_test,
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

# Released ViT-L configs: backbone's trainable parts at lr x 0.1 (the no-decay
# keys repeat the multiplier: MMEngine applies only the longest match).
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'backbone.temporal_embedding': dict(lr_mult=0.1, decay_mult=0.0),
            'backbone.positional_embedding': dict(lr_mult=0.1, decay_mult=0.0),
            'backbone.class_embedding': dict(lr_mult=0.1, decay_mult=0.0),
            'backbone.ln_post': dict(lr_mult=0.1, decay_mult=0.0),
        }))

train_cfg = dict(max_epochs=40, val_interval=1)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'),
    logger=dict(interval=10))
custom_hooks = [dict(type='MergeAdaptersHook')]
