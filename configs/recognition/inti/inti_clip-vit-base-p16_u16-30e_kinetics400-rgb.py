# InTI_{5,7} (InTI paper, Table 1): CLIP ViT-B/16 fully fine-tuned with two
# inter-frame token interpolation layers (after blocks 5 and 7), K400,
# 16 frames; frames per block 16 (blocks 1-5), 8 (6-7), 4 (8-12). 182 GFLOPs
# per clip in the paper vs 281 for the naive 16-frame ViT-B/16 (this package:
# 182.0 / 281.3, docs/en/user_guides/configs.md "InTI").
#
# The paper's K400 recipe (its appendix): "the full fine-tuned setting" of
# ViFi-CLIP without the text encoder. ViFi-CLIP's fully-supervised K400 config
# (configs/fully_supervised/k400/16_16_vifi_clip.yaml and its data pipeline):
# 16 frames by segment sampling over the whole video, multi-scale crop, flip,
# ColorJitter p0.8, GrayScale p0.2, Mixup 0.8 / CutMix 1.0 with label smoothing
# 0.1, AdamW lr 2.2e-5 betas (0.9, 0.98) wd 0.001, effective batch 512, 30
# epochs with 5 warm-up then cosine, drop path 0; test 4 clips x 3 crops.
# configs/recognition/inti/inti-temp_clip-vit-base-p16_u16-30e_kinetics400-rgb.py
# (InTI^temp) shares it.
_base_ = ['../zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

num_frames = 16
num_classes = 400
# The paper's naive and InTI models have no input temporal embedding besides
# InTI's own sigma * P.
model = dict(
    backbone=dict(
        num_frames=num_frames,
        stdha=None,
        adapters=None,
        freeze_pretrained=False,
        drop_path_rate=0.0,
        temporal_embedding=False,
        compress=dict(type='InTI', after_blocks=(5, 7))),
    cls_head=dict(num_classes=num_classes, label_smooth_eps=0.1),
    data_preprocessor=dict(
        # Mixup (alpha 0.8) or CutMix (alpha 1.0), one of the two for each
        # batch with equal chance (ViFi-CLIP's CutmixMixupBlending,
        # switch_prob 0.5); labels become soft and the head smooths them.
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
                dict(
                    type='CutmixBlending', alpha=1.0, num_classes=num_classes),
            ])))

train_pipeline = [
    dict(type='DecordInit'),
    # 16 segments over the whole video, one random frame from each
    dict(type='UniformSample', clip_len=num_frames),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    # ColorJitter with probability 0.8 (mmcv's RandomApply), one draw for
    # the whole clip. torchvision's through MMAction2's TorchVisionWrapper:
    # MMAction2 1.2.0's own ColorJitter fails under NumPy 2 whenever it draws
    # a negative hue shift (uint8 + negative int: OverflowError).
    dict(
        type='mmcv.RandomApply',
        prob=0.8,
        transforms=[
            dict(
                type='TorchVisionWrapper',
                op='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.2,
                hue=0.1)
        ]),
    # MMAction2 has no grayscale transform: torchvision's, on the whole clip
    dict(type='TorchVisionWrapper', op='RandomGrayscale', p=0.2),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# 4 temporal clips (shifted segment positions) x 3 spatial crops
test_pipeline = [
    dict(type='DecordInit'),
    dict(
        type='UniformSample', clip_len=num_frames, num_clips=4,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# 8 GPUs x 8 clips = 64 per step; 8 steps of gradient accumulation make the
# effective batch of 512.
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

max_epochs = 30
warmup_epochs = 5
accumulative_counts = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    accumulative_counts=accumulative_counts,
    optimizer=dict(lr=2.2e-5, betas=(0.9, 0.98), weight_decay=0.001),
    clip_grad=None)
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
        eta_min=2.2e-7,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
# lr 2.2e-5 is for an effective batch of 512 = 64 clips per step x 8
# accumulation steps. MMEngine's --auto-scale-lr compares base_batch_size with
# GPUs x batch_size per step and ignores accumulative_counts, so the base is
# the per-step batch: 512 / 8 = 64 (16 GPUs x 8 clips would double the lr).
auto_scale_lr = dict(base_batch_size=512 // accumulative_counts)
# a fully fine-tuned model has no adapters to merge
custom_hooks = []
