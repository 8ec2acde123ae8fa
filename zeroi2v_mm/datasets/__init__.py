from .checked_video_dataset import CheckedVideoDataset
from .transforms import CheckVideoLength

__all__ = ['CheckedVideoDataset', 'CheckVideoLength']
