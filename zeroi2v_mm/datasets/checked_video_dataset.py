"""MMAction2's VideoDataset, checked before anything trains."""
import os.path as osp
from typing import List, Optional

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` that fails at once, saying what to get and where,
    when its annotation file or video folder is missing, and names the file
    and line of a malformed annotation.

    Args:
        data_hint (str, optional): What to download or generate and where to
            put it; appended to every error.
        **kwargs: as MMAction2's ``VideoDataset``.
    """

    def __init__(self, *args, data_hint: Optional[str] = None, **kwargs):
        self.data_hint = data_hint or ''
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
            raise RuntimeError(
                f"cannot load video {info['filename']} ({self.ann_file} line "
                f"{info.get('ann_line', '?')}): {type(error).__name__}: "
                f'{error}') from error
