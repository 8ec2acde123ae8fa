# ZeroI2V, CLIP ViT-B/16, UCF101 split 1, 32 frames sampled uniformly: the
# released CLIP-B_ucf101_u32_split1.py. STDHA {-1: 1, 1: 1, -2: 1, 2: 1}
# (stdha_cfg shift_div=12, long_shift_div=12, long_shift_right=True), 1
# temporal x 3 spatial test views; everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-40e_ucf101-split1-rgb.py.
# Gradient checkpointing keeps 32-frame clips in memory. Splits 2 and 3:
# configs/zeroi2v_ucf101_32f_split{2,3}.py.
_base_ = ['zeroi2v_clip-vit-base-p16_u8-40e_ucf101-split1-rgb.py']

num_frames = 32
model = dict(
    backbone=dict(
        num_frames=num_frames,
        with_cp=True,
        stdha=dict(_delete_=True, offsets=[(-1, 1), (1, 1), (-2, 1), (2, 1)])))

# The base pipelines with UniformSample taking 32 frames.
train_pipeline, val_pipeline, test_pipeline = [[
    dict(step, clip_len=num_frames)
    if step['type'] == 'UniformSample' else step for step in pipeline
] for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                   _base_.test_pipeline)]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
