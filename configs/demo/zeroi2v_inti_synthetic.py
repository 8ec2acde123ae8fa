# ZeroI2V + InTI on the synthetic benchmark: one InTI layer after block 2 of
# 4 halves the clip from 8 to 4 frames; STDHA {-1: 2, 1: 2} fits both.
_base_ = ['zeroi2v_synthetic.py']

model = dict(backbone=dict(compress=dict(type='InTI', after_blocks=(2, ))))
