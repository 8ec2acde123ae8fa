# ZeroI2V, CLIP ViT-L/14, Kinetics-400, 8 frames x interval 16 (paper: 86.3
# top-1). STDHA {+1: 2, -1: 2} (Table 11: 4 of 16 heads), 4 adapters per
# block. Everything else as configs/zeroi2v_k400.py.
_base_ = ['zeroi2v_k400.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
        stdha=dict(_delete_=True, offsets={1: 2, -1: 2})),
    cls_head=dict(in_channels=1024))
