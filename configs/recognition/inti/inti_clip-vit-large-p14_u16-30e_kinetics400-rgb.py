# InTI_{5,7} on CLIP ViT-L/14 (InTI paper, Table 1: 811 GFLOPs vs 1297 for the
# naive 16-frame ViT-L/14, 87.1 top-1): InTI layers after blocks 10 and 14
# (ViT-L maps InTI_{i,j} to blocks 2i and 2j). InTI_{3,5} / InTI_{7,9}:
# --cfg-options model.backbone.compress.after_blocks="(6,10)" / "(14,18)".
_base_ = ['inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        arch='ViT-L/14',
        pretrained='checkpoints/clip/ViT-L-14.pt',
        # 16 frames of ViT-L: checkpoint the blocks to fit 8 clips per GPU
        with_cp=True,
        compress=dict(after_blocks=(10, 14))),
    cls_head=dict(in_channels=1024))
