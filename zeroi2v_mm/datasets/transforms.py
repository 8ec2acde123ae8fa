"""Pipeline steps: checks that turn silent data problems into named errors,
and a decoded-video cache for small datasets read many times."""
from collections import OrderedDict
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.datasets.transforms import DecordInit
from mmaction.registry import TRANSFORMS


class VideoTooShortError(ValueError):
    """A video has fewer frames than the pipeline needs."""


@TRANSFORMS.register_module()
class CheckVideoLength(BaseTransform):
    """Refuse a video with fewer than ``min_frames`` frames.

    Put it right after ``DecordInit`` (which sets ``total_frames``).
    MMAction2's
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


class _DecodedFrames:
    """What ``decord.VideoReader.get_batch`` returns, for frames in memory."""

    def __init__(self, frames: np.ndarray):
        self._frames = frames

    def asnumpy(self) -> np.ndarray:
        return self._frames


class DecodedVideo:
    """A decoded video that MMAction2's ``DecordDecode`` (and ``SampleFrames``)
    read like a ``decord.VideoReader``: ``len()``, ``get_avg_fps()`` and
    ``get_batch(frame_inds)``.

    Args:
        frames (np.ndarray): (F, H, W, 3) uint8 RGB, every frame of the video.
        fps (float): Its average frame rate.
    """

    def __init__(self, frames: np.ndarray, fps: float):
        self.frames = frames
        self.fps = fps

    def __len__(self) -> int:
        return len(self.frames)

    def get_avg_fps(self) -> float:
        return self.fps

    def get_batch(self, frame_inds) -> _DecodedFrames:
        # Fancy indexing copies: a transform that edits frames in place
        # cannot change the cache.
        return _DecodedFrames(self.frames[np.asarray(
            frame_inds, dtype=np.int64)])


@TRANSFORMS.register_module()
class CachedDecordInit(DecordInit):
    """``DecordInit`` that decodes each video once and keeps its frames in
    memory, for small datasets read for many epochs (the synthetic demo:
    opening and decoding an mp4 costs about as much as a tenth of a
    training step there).

    Use it in place of ``DecordInit``, followed by MMAction2's
    ``SampleFrames`` and ``DecordDecode`` as usual: the frames they get are
    the frames decord decodes (the whole video is decoded once, in order;
    ``DecordDecode(mode='accurate')`` reads the same frames). Each dataloader
    process has its own cache, so use it with ``num_workers=0`` or
    ``persistent_workers=True``. Once the cache holds ``max_bytes``, further
    videos are opened with decord as ``DecordInit`` does (not cached).

    Args:
        max_bytes (int): Most bytes of decoded frames to keep. Defaults to
            1 GiB.
        **kwargs: ``DecordInit``'s arguments (``io_backend``,
            ``num_threads``, file client arguments).
    """

    def __init__(self, max_bytes: int = 2**30, **kwargs) -> None:
        super().__init__(**kwargs)
        if max_bytes < 0:
            raise ValueError(f'max_bytes={max_bytes} must be >= 0')
        self.max_bytes = int(max_bytes)
        self.cached_bytes = 0
        self._cache: 'OrderedDict[str, DecodedVideo]' = OrderedDict()

    def _decoded(self, filename: str) -> Optional[DecodedVideo]:
        video = self._cache.get(filename)
        if video is not None:
            return video
        container = self._get_video_reader(filename)
        total = len(container)
        frames = container.get_batch(list(range(total))).asnumpy()
        if self.cached_bytes + frames.nbytes > self.max_bytes:
            return None
        video = DecodedVideo(frames, container.get_avg_fps())
        self._cache[filename] = video
        self.cached_bytes += frames.nbytes
        return video

    def transform(self, results: dict) -> dict:
        video = self._decoded(results['filename'])
        if video is None:  # cache full: DecordInit's own reader
            return super().transform(results)
        results['total_frames'] = len(video)
        results['video_reader'] = video
        results['avg_fps'] = video.get_avg_fps()
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(max_bytes={self.max_bytes}, '
                f'io_backend={self.io_backend}, '
                f'num_threads={self.num_threads})')
