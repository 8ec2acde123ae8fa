# The recommended ZeroI2V config for Something-Something V2, under the short
# name of the design card: CLIP ViT-B/16, 8 frames sampled uniformly over the
# video, STDHA + linear adapters merged into the weights after training.
# Every setting comes from the MMAction2-named file below;
# docs/en/user_guides/configs.md lists the other SSv2 configs.
_base_ = [
    './recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py'
]
