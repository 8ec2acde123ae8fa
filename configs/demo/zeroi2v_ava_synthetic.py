# configs/detection/zeroi2v/zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py on
# the synthetic AVA-format dataset (tools/data/make_synthetic_ava.py): a small
# CLIP-style ViT, frozen, with STDHA and linear adapters, MMAction2's AVA
# detector on given proposals, AVAMetric; trains, merges and evaluates on a CPU
# in minutes. Actions are motions (move right / left, bounce, stand still) that
# no single frame shows, and that change every second. Generate the data first:
#     python tools/data/make_synthetic_ava.py --out data/synthetic_ava
_base_ = [
    '../detection/zeroi2v/zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py'
]

num_frames = 8
image_size = 64
patch_size = 8
fps = 8  # of the synthetic videos (AVA's rawframes: 30)
seconds = 6  # per video; keyframes 901 .. 905
data_root = 'data/synthetic_ava'
anno_root = f'{data_root}/annotations'

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            width=128,
            layers=4,
            heads=8,
            patch_size=patch_size,
            image_size=image_size),
        num_frames=num_frames,
        pretrained=None,
        act='gelu',
        stdha=dict(_delete_=True, offsets=[(-1, 2), (1, 2)]),
        adapters=dict(num_adapters=4, ratio=0.25, scale=1.0, dropout=0.0)),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_stride=patch_size, output_size=4),
        bbox_head=dict(
            in_channels=128,
            num_classes=5,  # background + 4 actions (3 evaluated)
            dropout_ratio=0.0,
            topk=(1, 3))))

# The 8 frames around the keyframe: the second (at 8 fps) whose motion is
# the action.
train_pipeline = [
    dict(type='SampleAVAFrames', clip_len=num_frames, frame_interval=1),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(
        type='SampleAVAFrames',
        clip_len=num_frames,
        frame_interval=1,
        test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]

# MMAction2's AVADataset, with the proposals pickle read by a restricted
# unpickler (no code from data files) and the annotation lines checked
# (zeroi2v_mm/datasets/checked_ava_dataset.py).
synthetic = dict(
    type='CheckedAVADataset',
    label_file=f'{anno_root}/ava_action_list_v2.2_for_activitynet_2019.pbtxt',
    data_prefix=dict(img=f'{data_root}/rawframes'),
    num_classes=5,
    fps=fps,
    timestamp_start=900,
    timestamp_end=900 + seconds)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        synthetic,
        ann_file=f'{anno_root}/ava_train_v2.2.csv',
        exclude_file=f'{anno_root}/ava_train_excluded_timestamps_v2.2.csv',
        proposal_file=f'{anno_root}/ava_dense_proposals_train.FAIR.'
        'recall_93.9.pkl',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        synthetic,
        ann_file=f'{anno_root}/ava_val_v2.2.csv',
        exclude_file=f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv',
        proposal_file=f'{anno_root}/ava_dense_proposals_val.FAIR.'
        'recall_93.9.pkl',
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=f'{anno_root}/ava_val_v2.2.csv',
    exclude_file=f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv',
    label_file=f'{anno_root}/ava_action_list_v2.2_for_activitynet_2019.pbtxt',
    num_classes=5)
test_evaluator = val_evaluator

max_epochs = 12
warmup_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=6)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
# The batch the demo's lr is set for (one process, no accumulation), not
# the base config's 64: --auto-scale-lr scales by (GPUs x 8) / 8.
auto_scale_lr = dict(enable=False, base_batch_size=8)
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
default_hooks = dict(
    checkpoint=dict(interval=6, max_keep_ckpts=2, save_best='auto'),
    logger=dict(interval=5))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
custom_hooks = [dict(type='MergeAdaptersHook', verify_batches=2)]
