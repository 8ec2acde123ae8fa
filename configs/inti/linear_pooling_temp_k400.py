# LinearPooling^temp_{5,7} (InTI paper, Table 2 baseline: 179 GFLOPs, 115M):
# InTI^temp with each InTI layer replaced by one learned pair of weights
# shared by all tokens.
_base_ = ['inti_temp_k400.py']

model = dict(backbone=dict(
    compress=dict(_delete_=True, type='LinearPooling', after_blocks=(5, 7))))
