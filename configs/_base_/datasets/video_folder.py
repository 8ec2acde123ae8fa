# A folder of your own videos with MMAction2 annotation lists: one line
# "relative/path/to/video.mp4 LABEL" per clip, labels 0..num_classes-1
# (MMAction2's VideoDataset format). 8 frames sampled uniformly over each
# video (any length works), 224-px crops, CLIP's input size. A config
# inheriting this file sets the paths and the number of classes in its
# dataloaders' `dataset` (configs/zeroi2v_own_videos.py shows how).
#
# `_base_` comes first: MMEngine reads a config file that imports a module
# and has no `_base_` as a lazy-import config, which cannot be mixed with
# the plain configs of this package.
_base_ = []

import os  # noqa: E402

num_frames = 8
dataset_type = 'CheckedVideoDataset'
# One loader process per core, at most 8 (MMAction2's default): a laptop
# gets 2, a GPU node 8 per GPU process.
num_workers = min(8, os.cpu_count() or 1)

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames, num_clips=1),
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
    dict(
        type='UniformSample', clip_len=num_frames, num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=num_workers,
    persistent_workers=num_workers > 0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=num_workers,
    persistent_workers=num_workers > 0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=8,
    num_workers=num_workers,
    persistent_workers=num_workers > 0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, pipeline=test_pipeline, test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
