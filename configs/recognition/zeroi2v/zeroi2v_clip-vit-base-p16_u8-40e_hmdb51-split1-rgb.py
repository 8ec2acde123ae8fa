# ZeroI2V, CLIP ViT-B/16, HMDB51 split 1 (paper Table 6: 73.7 top-1, mean of
# the 3 splits; 78.5 starting from a K400-trained ZeroI2V): the released
# CLIP-B_hmdb51_u8_split1.py, the same recipe as
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u8-40e_ucf101-split1-rgb.py.
# Splits 2 and 3: configs/zeroi2v_hmdb51_split{2,3}.py; 32 frames:
# configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_u32-40e_hmdb51-split1-rgb.py.
_base_ = ['zeroi2v_clip-vit-base-p16_u8-40e_ucf101-split1-rgb.py']

split = 1
model = dict(cls_head=dict(num_classes=51))

data_root = 'data/hmdb51/videos'
ann_file_train = f'data/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_val = f'data/hmdb51/hmdb51_val_split_{split}_videos.txt'
data_hint = ('HMDB51 goes under data/hmdb51/ in MMAction2\'s layout '
             '(videos/<class>/*.avi, hmdb51_{train,val}_split_{1,2,3}_'
             'videos.txt): see MMAction2\'s tools/data/hmdb51/README.md to '
             'download and prepare it.')
dataset = dict(
    data_prefix=dict(video=data_root), data_hint=data_hint, num_classes=51)
train_dataloader = dict(dataset=dict(dataset, ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(dataset, ann_file=ann_file_val))
test_dataloader = dict(dataset=dict(dataset, ann_file=ann_file_val))
