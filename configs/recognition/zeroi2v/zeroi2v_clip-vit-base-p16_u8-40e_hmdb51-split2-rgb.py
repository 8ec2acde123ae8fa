# ZeroI2V, CLIP ViT-B/16, HMDB51 split 2:
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-40e_hmdb51-split1-rgb.py
# with the split-2 annotation files. The paper reports the mean over the 3
# splits.
_base_ = ['zeroi2v_clip-vit-base-p16_u8-40e_hmdb51-split1-rgb.py']

split = 2
ann_file_train = f'data/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_val = f'data/hmdb51/hmdb51_val_split_{split}_videos.txt'
train_dataloader = dict(dataset=dict(ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val))
