"""MMAction2's AVADataset with its proposals read safely and its
annotation file checked line by line."""
import math
from typing import List

import numpy as np

from mmaction.datasets import AVADataset
from mmaction.registry import DATASETS

from ..utils.safe_pickle import load_pickled_data
from .checked_video_dataset import read_utf8_text


@DATASETS.register_module()
class CheckedAVADataset(AVADataset):
    """``AVADataset`` that

    * reads ``proposal_file`` with the restricted unpickler of
      :mod:`zeroi2v_mm.utils.safe_pickle` (MMAction2 uses plain pickle: a
      crafted proposals file would run code), before anything else, and
      checks it is a dict of ``(N, 4)`` / ``(N, 5)`` arrays;
    * checks every line of ``ann_file`` before MMAction2 parses it: UTF-8
      text, 8 comma-separated fields, a box inside the frame (``0 <= x1 <=
      x2 <= 1``, same for y), an action id in ``[1, num_classes)`` (without
      ``custom_classes``). Each error names the file, the line, the value
      and the fix; MMAction2 would fail later with an ``IndexError`` or a
      C++ ``std::vector`` error, or not at all.

    Arguments are those of ``AVADataset``.
    """

    def __init__(self, *args, proposal_file: str = None, **kwargs):
        proposals = None
        if proposal_file is not None:
            proposals = load_pickled_data(proposal_file)
            self._check_proposals(proposals, proposal_file)
        super().__init__(*args, proposal_file=None, **kwargs)
        self.proposal_file = proposal_file
        self.proposals = proposals

    @staticmethod
    def _check_proposals(proposals, path: str) -> None:
        if not isinstance(proposals, dict):
            raise ValueError(f'{path}: expected a dict {{"video,second": '
                             f'array}}, found {type(proposals).__name__}')
        for key, value in proposals.items():
            if not (isinstance(value, np.ndarray) and value.ndim == 2
                    and value.shape[-1] in (4, 5)):
                shape = getattr(value, 'shape', type(value).__name__)
                raise ValueError(
                    f'{path}: proposals of {key!r} are {shape}; expected '
                    'an (N, 4) or (N, 5) array (x1, y1, x2, y2[, score]), '
                    'normalised to [0, 1]')

    def _check_annotations(self) -> None:
        text = read_utf8_text(self.ann_file)
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.strip().split(',')
            where = f'{self.ann_file}:{number}'
            if len(fields) != 8:
                raise ValueError(
                    f'{where}: {len(fields)} fields in {line.strip()!r}; '
                    'expected 8: video_id,second,x1,y1,x2,y2,action_id,'
                    'person_id')
            try:
                box = [float(v) for v in fields[2:6]]
                label, _ = int(fields[6]), int(fields[7])
                int(fields[1])
            except ValueError:
                raise ValueError(
                    f'{where}: second, box, action id and person id must '
                    f'be numbers in {line.strip()!r}') from None
            x1, y1, x2, y2 = box
            if not (all(math.isfinite(v) and 0 <= v <= 1
                        for v in box) and x1 <= x2 and y1 <= y2):
                raise ValueError(
                    f'{where}: box {box} is outside the frame or inverted; '
                    'AVA boxes are x1,y1,x2,y2 normalised to [0, 1] with '
                    'x1 <= x2, y1 <= y2')
            if self.custom_classes is None and not (1 <= label <
                                                    self.num_classes):
                raise ValueError(
                    f'{where}: action id {label} is outside [1, '
                    f'{self.num_classes}) (num_classes={self.num_classes}, '
                    'id 0 is the background); fix the line or set '
                    'num_classes (and the head\'s) to the largest id + 1, or '
                    'list the ids you use in custom_classes')

    def load_data_list(self) -> List[dict]:
        self._check_annotations()
        return super().load_data_list()
