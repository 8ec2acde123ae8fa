# ZeroI2V on an ImageNet-21K ViT-B/16, Something-Something V2, 8 frames sampled
# uniformly over the video, 50 epochs (paper Table 13: 65.3 top-1 with 8x3x1
# views, 422 GFLOPs, 86M parameters, 0 new after merging). The paper: "the same
# model and training settings" as with CLIP, so everything but the image model
# is configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py
# (STDHA {-1: 1, 1: 1}, 6 adapters s1 p0, RandAugment, erasing, label
# smoothing, flip with the SSv2 label swap).
#
# The image model is timm's vit_base_patch16_224.augreg_in21k (timm layout,
# mean = std = 0.5); how to save it: see
# zeroi2v_in21k-vit-base-p16_8x16x1-40e_kinetics400-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        style='timm',
        act='gelu',
        pretrained='checkpoints/timm/vit_base_patch16_224.augreg_in21k.pth'),
    data_preprocessor=dict(
        mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]))
