# ZeroI2V on CLIP ViT-B/16, 8 frames (paper Table 11): STDHA with 2 of 12
# heads temporal, in the released order {-1: 1, 1: 1} (head 0 reads frame
# t-1, head 1 frame t+1; docs/en/advanced_guides/stdha.md), 4 dense
# linear adapters per block, frozen image model. CLIP normalisation, RGB in
# 0..255.
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ZeroI2VViT',
        arch='ViT-B/16',
        num_frames=8,
        pretrained='checkpoints/clip/ViT-B-16.pt',
        act='quick_gelu',  # OpenAI CLIP weights were trained with QuickGELU
        stdha=dict(offsets=[(-1, 1), (1, 1)]),
        adapters=dict(num_adapters=4, ratio=0.25, scale=0.5, dropout=0.1),
        freeze_pretrained=True,
        drop_path_rate=0.0),
    cls_head=dict(
        type='ZeroI2VHead',
        num_classes=400,
        in_channels=768,
        dropout_ratio=0.5,
        init_std=0.01,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[122.769, 116.74, 104.04],
        std=[68.493, 66.63, 70.321],
        format_shape='NCTHW'))
