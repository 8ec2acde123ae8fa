from .checked_video_dataset import CheckedVideoDataset
from .rand_augment import VideoRandAugment
from .transforms import CheckVideoLength

__all__ = ['CheckedVideoDataset', 'CheckVideoLength', 'VideoRandAugment']
