"""MMAction2's VideoDataset, checked before anything trains."""
import os.path as osp
from typing import List, Optional, Union

from mmengine.logging import print_log

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS

from .transforms import CheckVideoLength

# Frame samplers whose ``clip_len`` is the number of distinct frames a clip
# shows; a video with fewer frames repeats some of them.
SAMPLERS = ('SampleFrames', 'UniformSample', 'UniformSampleFrames',
            'DenseSampleFrames')
# Consecutive bad videos, with none loaded yet, after which a run in skip mode
# stops instead of retrying up to BaseDataset.max_refetch (1000) times.
ALL_BAD_AFTER = 20


def read_utf8_text(path: str) -> str:
    """The text of an annotation file, which must be UTF-8.

    Raises:
        ValueError: naming ``path``, the line and the byte that is not UTF-8,
            and how to convert the file.
    """
    with open(path, 'rb') as file:
        raw = file.read()
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b'\n') + 1
        raise ValueError(
            f'{path}:{line}: not UTF-8 text (byte {raw[error.start]:#04x}); '
            'save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 OLD > '
            'NEW)') from None


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` that fails at once, saying what to get and where,
    when its annotation file or video folder is missing, and names the file
    and line of a malformed annotation or of a video that cannot be loaded
    (missing, empty, corrupt, too short: see ``CheckVideoLength``).

    Checked when the annotation file is read (training and testing alike):
    an empty file; a line without a label; a label that is not an integer;
    a negative label; with ``num_classes`` set, a label ``>= num_classes``.
    Each error names the file and line.

    Checked per video: it must have at least as many frames as one clip
    shows (``clip_len`` of the pipeline's frame sampler, found automatically;
    ``min_video_frames`` overrides it). Shorter videos would silently repeat
    frames.

    Args:
        data_hint (str, optional): What to download or generate and where to
            put it; appended to every error.
        on_bad_video (str): ``'error'`` (default) stops at the first video
            that cannot be loaded, naming it and its annotation line.
            ``'skip'`` (training only) warns, counts and trains on another
            sample instead; evaluation never skips, since that would change
            the test set. When every video tried is bad (the first
            ``ALL_BAD_AFTER`` = 20 in a row, or all of them) the run stops
            with the count.
        min_video_frames (int | str | None): ``'auto'`` (default): the
            pipeline sampler's ``clip_len``; an int: that many; None: no
            length check.
        num_classes (int, optional): as ``VideoDataset``; when given, labels
            must lie in ``[0, num_classes)``.
        **kwargs: as MMAction2's ``VideoDataset``.
    """

    def __init__(self,
                 *args,
                 data_hint: Optional[str] = None,
                 on_bad_video: str = 'error',
                 min_video_frames: Union[int, str, None] = 'auto',
                 **kwargs):
        if on_bad_video not in ('error', 'skip'):
            raise ValueError(f"on_bad_video={on_bad_video!r}: choose 'error' "
                             "or 'skip'")
        if not (min_video_frames in ('auto', None) or
                (isinstance(min_video_frames, int) and min_video_frames > 0)):
            raise ValueError(f'min_video_frames={min_video_frames!r}: '
                             "'auto', None or a positive integer")
        self.data_hint = data_hint or ''
        self.on_bad_video = on_bad_video
        self.skipped_videos = 0
        self._bad_indices = set()
        self._loaded_videos = 0
        self._bad_in_a_row = 0
        super().__init__(*args, **kwargs)
        self._add_length_check(min_video_frames)

    def _add_length_check(self, min_frames) -> None:
        """Insert ``CheckVideoLength`` right after the video reader
        (``*Init``), unless the pipeline has one already."""
        transforms = getattr(self.pipeline, 'transforms', None)
        if min_frames is None or transforms is None or any(
                isinstance(t, CheckVideoLength) for t in transforms):
            return
        if min_frames == 'auto':
            clip_lens = [
                getattr(t, 'clip_len', None) for t in transforms
                if type(t).__name__ in SAMPLERS
            ]
            if not clip_lens or not isinstance(clip_lens[0], int):
                return
            min_frames = clip_lens[0]
        readers = [
            i for i, t in enumerate(transforms)
            if type(t).__name__.endswith('Init')
        ]
        if readers:
            transforms.insert(readers[0] + 1, CheckVideoLength(min_frames))

    def _fail(self, message: str) -> None:
        raise FileNotFoundError(f'{message}. {self.data_hint}'.strip())

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            self._fail(f'annotation file not found: {self.ann_file}')
        video_dir = self.data_prefix.get('video')
        if video_dir and not osp.isdir(video_dir):
            self._fail(f'video folder not found: {video_dir}')
        entries = 0
        for number, line in enumerate(
                read_utf8_text(self.ann_file).split('\n'), start=1):
            fields = line.strip().split(self.delimiter)
            if not line.strip():
                continue
            entries += 1
            labels = fields[1:]
            if not labels:
                # MMAction2 would score (or train) it against label -1
                raise ValueError(f'{self.ann_file}:{number}: no label in '
                                 f"{line.strip()!r}; expected 'path "
                                 "label' (an integer class index)")
            if not self.multi_class and len(labels) > 1:
                raise ValueError(f'{self.ann_file}:{number}: expected '
                                 f"'path label', got {line.strip()!r}")
            if not all(label.lstrip('-').isdigit() for label in labels):
                raise ValueError(f'{self.ann_file}:{number}: label is not '
                                 f'an integer in {line.strip()!r}')
            for label in map(int, labels):
                if label < 0 or (self.num_classes is not None
                                 and label >= self.num_classes):
                    allowed = (f'[0, {self.num_classes})'
                               if self.num_classes is not None else '>= 0')
                    raise ValueError(
                        f'{self.ann_file}:{number}: label {label} is '
                        f'outside {allowed} in {line.strip()!r}')
        if not entries:
            raise ValueError(f'{self.ann_file} is empty: no annotation lines '
                             "('path label' per line). "
                             f'{self.data_hint}'.strip())
        data_list = super().load_data_list()
        for number, info in enumerate(data_list, start=1):
            info['ann_line'] = number
        return data_list

    def prepare_data(self, idx: int):
        """Run the pipeline; a video that cannot be read is named, with its
        annotation line, instead of surfacing as a decoder error."""
        try:
            data = super().prepare_data(idx)
            self._loaded_videos += 1
            self._bad_in_a_row = 0
            return data
        except Exception as error:
            info = self.get_data_info(idx)
            message = (f"cannot load video {info['filename']} "
                       f"({self.ann_file} line {info.get('ann_line', '?')}): "
                       f'{type(error).__name__}: {error}')
            if self.on_bad_video == 'skip' and not self.test_mode:
                self.skipped_videos += 1
                self._bad_indices.add(idx)
                self._bad_in_a_row += 1
                if len(self._bad_indices) == len(self) or (
                        not self._loaded_videos
                        and self._bad_in_a_row >= ALL_BAD_AFTER):
                    raise RuntimeError(
                        f'{len(self._bad_indices)} of the {len(self)} videos '
                        f'of {self.ann_file} failed to load and none has '
                        'loaded: stopping instead of retrying (check '
                        f'data_prefix and the files). Last: {message}'
                    ) from error
                print_log(
                    f'{message}; skipped (bad videos skipped so far: '
                    f'{self.skipped_videos})',
                    logger='current',
                    level=30)
                return None  # BaseDataset then draws another sample
            raise RuntimeError(message) from error
