# ZeroI2V, CLIP ViT-L/14, Kinetics-400, 16 frames x interval 8. STDHA
# {+1: 2, -1: 2, +2: 1} (Table 11: 5 of 16 heads). Everything else as
# configs/zeroi2v_k400_16f.py.
_base_ = ['zeroi2v_k400_16f.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
        with_cp=True,
        stdha=dict(_delete_=True, offsets={1: 2, -1: 2, 2: 1})),
    cls_head=dict(in_channels=1024))
