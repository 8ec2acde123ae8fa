from .checked_ava_dataset import CheckedAVADataset
from .checked_video_dataset import CheckedVideoDataset
from .rand_augment import VideoRandAugment
from .transforms import CachedDecordInit, CheckVideoLength, DecodedVideo

__all__ = [
    'CachedDecordInit', 'CheckedAVADataset', 'CheckedVideoDataset',
    'CheckVideoLength', 'DecodedVideo', 'VideoRandAugment'
]
