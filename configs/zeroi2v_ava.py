# The recommended ZeroI2V config for AVA v2.2 spatio-temporal action
# detection, under the short name of the design card: CLIP ViT-B/16, 8
# frames, MMAction2's FastRCNN AVA detector on given person proposals. Every
# setting comes from the MMAction2-named file below (docs/en/user_guides/
# ava.md: data layout and the mmdet extra it needs).
_base_ = [
    './detection/zeroi2v/zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py'
]
