# InTI^temp_{5,7} (InTI paper, Tables 1-2): CLIP ViT-B/16 with UniFormerV2's
# temporal modules (MMAction2's UniFormerV2, K400 setting: four global
# UniBlocks reading blocks 9-12, no local MHRA) and two InTI layers after
# blocks 5 and 7, fully fine-tuned; K400, 16 frames, 16 x 3 x 4 views. Paper:
# 184 GFLOPs, 126M parameters, 84.9 top-1. This package: see
# docs/en/user_guides/configs.md "InTI" (cost of every config next to the
# paper's). Recipe: ViFi-CLIP's fully-supervised K400 setting, from
# ../inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py.
_base_ = ['inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py']

num_frames = 16
num_classes = 400
model = dict(
    _delete_=True,
    type='Recognizer3D',
    backbone=dict(
        type='UniFormerV2InTI',
        pretrained='checkpoints/clip/ViT-B-16.pt',
        input_resolution=224,
        patch_size=16,
        width=768,
        layers=12,
        heads=12,
        t_size=num_frames,
        backbone_drop_path_rate=0.0,
        # MMAction2's UniFormerV2-B K400 settings (its uniformerv2-base-p16-
        # res224_clip_u8_kinetics400-rgb.py): they reproduce the paper's
        # UniFormerV2-B row (297 GFLOPs, 115M) exactly at 16 frames.
        dw_reduction=1.5,
        temporal_downsample=False,
        no_lmhra=True,
        double_lmhra=True,
        return_list=[8, 9, 10, 11],
        n_layers=4,
        n_dim=768,
        n_head=12,
        mlp_factor=4.0,
        drop_path_rate=0.0,
        mlp_dropout=[0.5, 0.5, 0.5, 0.5],
        compress=dict(type='InTI', after_blocks=(5, 7))),
    cls_head=dict(
        type='UniFormerHead',
        dropout_ratio=0.5,
        num_classes=num_classes,
        in_channels=768,
        label_smooth_eps=0.1,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[122.769, 116.74, 104.04],
        std=[68.493, 66.63, 70.321],
        format_shape='NCTHW',
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
                dict(
                    type='CutmixBlending', alpha=1.0, num_classes=num_classes),
            ])))
