# The recommended ZeroI2V config for Kinetics-400, under the short name of
# the design card (`mim train mmaction configs/zeroi2v_k400.py`): CLIP
# ViT-B/16, 8 frames x interval 16, STDHA + linear adapters merged into the
# weights after training. Every setting comes from the MMAction2-named file
# below; docs/en/user_guides/configs.md lists the other K400 configs.
_base_ = [
    './recognition/zeroi2v/'
    'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'
]
