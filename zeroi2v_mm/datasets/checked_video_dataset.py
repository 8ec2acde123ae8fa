"""MMAction2's VideoDataset, checked before anything trains."""
import os.path as osp
from typing import List, Optional

from mmengine.logging import print_log

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` that fails at once, saying what to get and where,
    when its annotation file or video folder is missing, and names the file
    and line of a malformed annotation or of a video that cannot be loaded
    (missing, empty, corrupt, too short: see ``CheckVideoLength``).

    Args:
        data_hint (str, optional): What to download or generate and where to
            put it; appended to every error.
        on_bad_video (str): ``'error'`` (default) stops at the first video
            that cannot be loaded, naming it and its annotation line.
            ``'skip'`` (training only) warns, counts and trains on another
            sample instead; evaluation never skips, since that would change
            the test set.
        **kwargs: as MMAction2's ``VideoDataset``.
    """

    def __init__(self, *args, data_hint: Optional[str] = None,
                 on_bad_video: str = 'error', **kwargs):
        if on_bad_video not in ('error', 'skip'):
            raise ValueError(f"on_bad_video={on_bad_video!r}: choose 'error' "
                             "or 'skip'")
        self.data_hint = data_hint or ''
        self.on_bad_video = on_bad_video
        self.skipped_videos = 0
        super().__init__(*args, **kwargs)

    def _fail(self, message: str) -> None:
        raise FileNotFoundError(f'{message}. {self.data_hint}'.strip())

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            self._fail(f'annotation file not found: {self.ann_file}')
        video_dir = self.data_prefix.get('video')
        if video_dir and not osp.isdir(video_dir):
            self._fail(f'video folder not found: {video_dir}')
        with open(self.ann_file) as f:
            for number, line in enumerate(f, start=1):
                fields = line.strip().split(self.delimiter)
                if not line.strip():
                    continue
                labels = fields[1:]
                if not self.multi_class and len(labels) > 1:
                    raise ValueError(f'{self.ann_file}:{number}: expected '
                                     f"'path label', got {line.strip()!r}")
                if not all(label.lstrip('-').isdigit() for label in labels):
                    raise ValueError(f'{self.ann_file}:{number}: label is not '
                                     f'an integer in {line.strip()!r}')
        data_list = super().load_data_list()
        for number, info in enumerate(data_list, start=1):
            info['ann_line'] = number
        return data_list

    def prepare_data(self, idx: int):
        """Run the pipeline; a video that cannot be read is named, with its
        annotation line, instead of surfacing as a decoder error."""
        try:
            return super().prepare_data(idx)
        except Exception as error:
            info = self.get_data_info(idx)
            message = (f"cannot load video {info['filename']} "
                       f"({self.ann_file} line {info.get('ann_line', '?')}): "
                       f'{type(error).__name__}: {error}')
            if self.on_bad_video == 'skip' and not self.test_mode:
                self.skipped_videos += 1
                print_log(f'{message}; skipped (bad videos skipped so far: '
                          f'{self.skipped_videos})', logger='current',
                          level=30)
                return None  # BaseDataset then draws another sample
            raise RuntimeError(message) from error
