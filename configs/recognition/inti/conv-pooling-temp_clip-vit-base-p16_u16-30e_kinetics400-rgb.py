# ConvPooling^temp_{5,7} (InTI paper, Table 2 baseline: 184 GFLOPs, 127M):
# InTI^temp with each InTI layer replaced by a strided 3D convolution
# (kernel 2 x 1 x 1, stride 2 in time; the reading closest to the paper's
# GFLOPs, see docs/en/user_guides/configs.md "InTI").
_base_ = ['inti-temp_clip-vit-base-p16_u16-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        compress=dict(
            _delete_=True,
            type='ConvPooling',
            after_blocks=(5, 7),
            spatial_kernel=1)))
