# InTI^temp_{5,7} on CLIP ViT-L/14 (InTI paper, Tables 1-2: 817 GFLOPs, 378M,
# 87.6 top-1). For ViT-L, InTI_{i,j} means after blocks 2i and 2j (Sec. 4.1),
# so the layers sit after blocks 10 and 14; frames per block 16 (1-10),
# 8 (11-14), 4 (15-24). UniFormerV2-L's global blocks read blocks 21-24.
_base_ = ['inti-temp_clip-vit-base-p16_u16-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        pretrained='checkpoints/clip/ViT-L-14.pt',
        patch_size=14,
        width=1024,
        layers=24,
        heads=16,
        return_list=[20, 21, 22, 23],
        n_dim=1024,
        n_head=16,
        compress=dict(after_blocks=(10, 14))),
    cls_head=dict(in_channels=1024))
