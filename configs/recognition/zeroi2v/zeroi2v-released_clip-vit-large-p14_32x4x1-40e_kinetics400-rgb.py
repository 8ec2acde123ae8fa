# The released CLIP-L_k400_32x4x1.py (MCG-NJU/ZeroI2V, the 87.2 checkpoint),
# where it differs from the paper's description
# (configs/recognition/zeroi2v/zeroi2v_clip-vit-large-p14_32x4x1-40e_kinetics400-rgb.py):
# 6 temporal heads instead of 7, STDHA {-1: 2, 1: 2, -2: 2} (stdha_cfg
# shift_div=8, long_shift_div=8: two heads each read t-1, t+1 and t-2), and
# RandomErasing(0.25, mode='rand') after the flip. Use this config for the
# released checkpoint.
_base_ = ['zeroi2v_clip-vit-large-p14_32x4x1-40e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        stdha=dict(_delete_=True, offsets=[(-1, 2), (1, 2), (-2, 2)])))

train_pipeline = []
for step in _base_.train_pipeline:
    train_pipeline.append(step)
    if step['type'] == 'Flip':
        train_pipeline.append(
            dict(type='RandomErasing', erase_prob=0.25, mode='rand'))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
