# ZeroI2V, CLIP ViT-B/16, UCF101 split 3, 32 frames:
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u32-40e_ucf101-split1-rgb.py
# with the split-3 annotation files. The paper reports the mean over the 3
# splits.
_base_ = ['zeroi2v_clip-vit-base-p16_u32-40e_ucf101-split1-rgb.py']

split = 3
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_videos.txt'
ann_file_val = f'data/ucf101/ucf101_val_split_{split}_videos.txt'
train_dataloader = dict(dataset=dict(ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val))
