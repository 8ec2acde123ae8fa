# ZeroI2V, CLIP ViT-L/14, Something-Something V2, 8 frames sampled uniformly.
# STDHA {+1: 2, -1: 2} (Table 11: 4 of 16 heads), 4 adapters per block (6
# only for the 8-frame ViT-B). Everything else as configs/zeroi2v_ssv2.py.
_base_ = ['zeroi2v_ssv2.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',  # OpenAI CLIP ViT-L/14
        adapters=dict(num_adapters=4),
        stdha=dict(_delete_=True, offsets={1: 2, -1: 2})),
    cls_head=dict(in_channels=1024))
