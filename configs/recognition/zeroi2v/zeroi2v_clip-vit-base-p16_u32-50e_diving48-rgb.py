# ZeroI2V, CLIP ViT-B/16, Diving48 (paper Table 6: 89.7 top-1, 1 temporal clip
# as in AIM). The paper gives no separate recipe: Diving48 needs fine temporal
# detail like SSv2, so this is the SSv2 recipe (configs/
# zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py: uniform sampling, RandAugment,
# random erasing, label smoothing, adapter dropout 0 and scale 1) with 32
# frames, the 32-frame ViT-B STDHA offsets of Table 11 in the released order
# and sign {-1: 1, 1: 1, -2: 1, 2: 1, -3: 1}, 4 adapters per block, a plain
# flip (no label swap) and 1 temporal x 3 spatial test views.
_base_ = ['zeroi2v_clip-vit-base-p16_u32-50e_sthv2-rgb.py']

model = dict(cls_head=dict(num_classes=48))

data_root = 'data/diving48/videos'
ann_file_train = 'data/diving48/diving48_train_list_videos.txt'
ann_file_val = 'data/diving48/diving48_val_list_videos.txt'
data_hint = ('Diving48 goes under data/diving48/ in MMAction2\'s layout '
             '(videos/, diving48_{train,val}_list_videos.txt): see '
             'MMAction2\'s tools/data/diving48/README.md to download and '
             'prepare it.')

# The SSv2 pipelines, flipping without SSv2's left/right label swap.
train_pipeline = [
    dict(step, flip_label_map=None) if step['type'] == 'Flip' else step
    for step in _base_.train_pipeline
]
dataset = dict(
    data_prefix=dict(video=data_root), data_hint=data_hint, num_classes=48)
train_dataloader = dict(
    dataset=dict(dataset, ann_file=ann_file_train, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(dataset, ann_file=ann_file_val))
test_dataloader = dict(dataset=dict(dataset, ann_file=ann_file_val))
