# LinearPooling^temp_{5,7} (InTI paper, Table 2 baseline: 179 GFLOPs, 115M):
# InTI^temp with each InTI layer replaced by one learned pair of weights
# shared by all tokens.
_base_ = ['inti-temp_clip-vit-base-p16_u16-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        compress=dict(
            _delete_=True, type='LinearPooling', after_blocks=(5, 7))))
