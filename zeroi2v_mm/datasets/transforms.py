"""Pipeline checks that turn silent data problems into named errors."""
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS


class VideoTooShortError(ValueError):
    """A video has fewer frames than the pipeline needs."""


@TRANSFORMS.register_module()
class CheckVideoLength(BaseTransform):
    """Refuse a video with fewer than ``min_frames`` frames.

    Put it right after ``DecordInit`` (which sets ``total_frames``). MMAction2's
    samplers would otherwise loop or repeat the few frames there are, and a
    truncated or nearly empty file would train under its label unnoticed.

    Args:
        min_frames (int): Fewest frames a video may have, e.g. ``clip_len *
            frame_interval`` for dense sampling.
    """

    def __init__(self, min_frames: int):
        if min_frames < 1:
            raise ValueError(f'min_frames={min_frames} must be >= 1')
        self.min_frames = min_frames

    def transform(self, results: dict) -> dict:
        total = results.get('total_frames')
        if total is None:
            raise KeyError('CheckVideoLength needs total_frames: put it after '
                           'DecordInit in the pipeline')
        if total < self.min_frames:
            raise VideoTooShortError(
                f"{results.get('filename', 'video')} has {total} frames, "
                f'fewer than min_frames={self.min_frames}')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(min_frames={self.min_frames})'
