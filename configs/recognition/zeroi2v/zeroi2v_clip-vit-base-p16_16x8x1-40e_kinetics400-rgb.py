# ZeroI2V, CLIP ViT-B/16, Kinetics-400, 16 frames x interval 8 (paper Table
# 12). STDHA: paper Table 11's {1*1, -1*1, 2*1} (3 of 12 heads, temporal
# receptive field 4) in this package's sign (head reads frame t+dt; the paper's
# sign is the opposite) and the released head order: {-1: 1, 1: 1, -2: 1}. No
# released config exists for this setting (paper only). Everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py']

num_frames = 16
frame_interval = 8
model = dict(
    backbone=dict(
        num_frames=num_frames,
        stdha=dict(_delete_=True, offsets=[(-1, 1), (1, 1), (-2, 1)])))

# The base pipelines with SampleFrames changed to 16 x 8.
train_pipeline, val_pipeline, test_pipeline = [[
    dict(step, clip_len=num_frames, frame_interval=frame_interval)
    if step['type'] == 'SampleFrames' else step for step in pipeline
] for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                   _base_.test_pipeline)]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
