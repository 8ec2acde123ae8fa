# This package's extension, in neither paper: the InTI paper combines InTI
# only with full fine-tuning and UniFormerV2's temporal modules
# (configs/recognition/inti/); here InTI goes into the frozen ZeroI2V model.
# ZeroI2V + InTI: frozen CLIP ViT-B/16 with STDHA and linear adapters, plus
# InTI_{5,7} frame compression, K400, 16 frames x interval 8 (ZeroI2V paper
# Table 12 sampling for 16 frames). Frames per block: 16 (blocks 1-5),
# 8 (6-7), 4 (8-12); STDHA {-1: 1, 1: 1, -2: 1} (Table 11, 16 frames) fits all.
# After merging, only the two InTI layers remain as extra parameters, and the
# clip costs about 0.65x the image model run on all 16 frames.
_base_ = ['zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

num_frames = 16
model = dict(
    backbone=dict(
        num_frames=num_frames,
        stdha=dict(_delete_=True, offsets=[(-1, 1), (1, 1), (-2, 1)]),
        compress=dict(type='InTI', after_blocks=(5, 7))))

train_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        clip_len=num_frames,
        frame_interval=8,
        num_clips=1),
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
    dict(
        type='SampleFrames',
        clip_len=num_frames,
        frame_interval=8,
        num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='SampleFrames',
        clip_len=num_frames,
        frame_interval=8,
        num_clips=3,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
