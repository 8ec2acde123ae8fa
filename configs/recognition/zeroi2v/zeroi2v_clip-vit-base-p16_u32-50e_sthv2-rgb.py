# ZeroI2V, CLIP ViT-B/16, Something-Something V2, 32 frames sampled uniformly.
# STDHA: Table 11's {1*1, -1*1, 2*1, -2*1, 3*1} (5 of 12 heads, temporal
# receptive field 6) in this package's sign and the released head order: {-1:
# 1, 1: 1, -2: 1, 2: 1, -3: 1}; 4 adapters per block. No released config for
# this setting (paper only). Everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py;
# gradient checkpointing for memory.
_base_ = ['zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

num_frames = 32
model = dict(
    backbone=dict(
        num_frames=num_frames,
        with_cp=True,
        # Table 11 (SSv2): 4 adapters per block beyond the 8-frame ViT-B.
        adapters=dict(num_adapters=4),
        stdha=dict(
            _delete_=True, offsets=[(-1, 1), (1, 1), (-2, 1), (2, 1), (-3,
                                                                       1)])))

# The base pipelines with UniformSample taking 32 frames.
train_pipeline, val_pipeline, test_pipeline = [[
    dict(step, clip_len=num_frames)
    if step['type'] == 'UniformSample' else step for step in pipeline
] for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                   _base_.test_pipeline)]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
