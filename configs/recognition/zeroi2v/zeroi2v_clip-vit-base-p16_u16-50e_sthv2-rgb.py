# ZeroI2V, CLIP ViT-B/16, Something-Something V2, 16 frames sampled
# uniformly: the released CLIP-B_sthv2_u16.py. STDHA {-1: 1, 1: 1, -2: 1,
# 2: 1} (stdha_cfg shift_div=12, long_shift_div=12, long_shift_right=True;
# Table 11's {1*1, -1*1, 2*1, -2*1}: 4 of 12 heads, temporal receptive field
# 5), 4 adapters per block (scale 1, dropout 0). Everything else as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

num_frames = 16
model = dict(
    backbone=dict(
        num_frames=num_frames,
        # Table 11 (SSv2): 4 adapters per block beyond the 8-frame ViT-B.
        adapters=dict(num_adapters=4),
        stdha=dict(_delete_=True, offsets=[(-1, 1), (1, 1), (-2, 1), (2, 1)])))

# The base pipelines with UniformSample taking 16 frames.
train_pipeline, val_pipeline, test_pipeline = [[
    dict(step, clip_len=num_frames)
    if step['type'] == 'UniformSample' else step for step in pipeline
] for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                   _base_.test_pipeline)]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
