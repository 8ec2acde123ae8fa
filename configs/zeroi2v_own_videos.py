# ZeroI2V on your own videos: copy this file, set the five values below, and
#   mim train mmaction my_config.py
# CLIP ViT-B/16 (frozen) + STDHA + linear adapters, merged into the weights
# after training (<work_dir>/<config name>_merged.pth). Data: one folder of
# videos and MMAction2 annotation lists, one "path/in/data_root.mp4 LABEL"
# line per clip (docs/en/user_guides/train_own_data.md).
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/zeroi2v_vit_b16.py',
    './_base_/datasets/video_folder.py',
    './_base_/schedules/adamw_cosine.py',
]

# ---- the five settings --------------------------------------------------
data_root = 'data/my_videos'  # 1. the folder the annotation paths start in
ann_file_train = 'data/my_videos/train_list.txt'  # 2. annotation lists
ann_file_val = 'data/my_videos/val_list.txt'
num_classes = 10  # 3. labels are 0 .. num_classes - 1
image_weights = 'checkpoints/clip/ViT-B-16.pt'  # 4. the image model
work_dir = 'work_dirs/my_videos'  # 5. checkpoints, logs, merged model
# --------------------------------------------------------------------------

model = dict(
    backbone=dict(pretrained=image_weights),
    cls_head=dict(num_classes=num_classes))
train_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        num_classes=num_classes))
val_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        num_classes=num_classes))
test_dataloader = val_dataloader

default_hooks = dict(checkpoint=dict(interval=1, save_best='auto'))
custom_hooks = [dict(type='MergeAdaptersHook', verify_batches=2)]
