"""Model-ready clips for deployment tools: calibration, verification and
inference all read videos the way ``mim test`` does.

:func:`iter_clips` yields the inputs of a deployed network
(:class:`~zeroi2v_mm.deployment.DeployedRecognizer`): ``(V, 3, T, H, W)``
float pixels 0..255, every view of one clip, decoded and sampled by the
config's own test pipeline (MMAction2's ``SampleFrames(test_mode=True)``,
resizing, cropping, ``FormatShape('NCTHW')``), either from the config's test
dataloader (its dataset, annotation file and label of each clip) or from a
single video file.
"""
import copy
import os.path as osp
from typing import Iterator, List, NamedTuple, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor


class Clip(NamedTuple):
    """One clip as the deployed network takes it.

    ``inputs``: ``(V, 3, T, H, W)`` float pixels 0..255 (every view);
    ``label``: the annotated class, -1 when unknown (a single video);
    ``source``: the video file.
    """
    inputs: Tensor
    label: int
    source: str


def _test_loader(cfg: Config) -> dict:
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader or not loader.get('dataset'):
        raise ValueError(f'{getattr(cfg, "filename", "the config")}: no '
                         'test_dataloader (or val_dataloader) with a dataset '
                         'to read clips from')
    return loader


def test_pipeline(cfg: Config) -> List[dict]:
    """The pipeline the config tests with: its test dataloader's (what
    ``mim test`` runs), else ``test_pipeline``."""
    loader = cfg.get('test_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or \
        cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError(f'{getattr(cfg, "filename", "the config")}: no '
                         'test_dataloader.dataset.pipeline or test_pipeline '
                         'to decode videos with')
    return copy.deepcopy(list(pipeline))


def _checked_inputs(inputs: Tensor, source: str) -> Tensor:
    if inputs.dim() != 5:
        raise ValueError(f'{source}: the test pipeline gives inputs of shape '
                         f'{tuple(inputs.shape)}; expected (V, 3, T, H, W) '
                         "(FormatShape 'NCTHW')")
    return inputs.float()


def video_clip(cfg: Config, video: str) -> Clip:
    """One video decoded by the config's test pipeline (the frame sampling,
    views and resizing of ``mim test``; MMAction2's ``inference_recognizer``
    does the same)."""
    from mmengine.dataset import Compose
    if not osp.isfile(video):
        raise FileNotFoundError(f'video not found: {video}')
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    data = Compose(test_pipeline(cfg))(
        dict(filename=video, label=-1, start_index=0, modality='RGB'))
    return Clip(_checked_inputs(data['inputs'], video), -1, video)


def spread_indices(total: int, count: Optional[int]) -> List[int]:
    """``count`` indices spread evenly over ``range(total)`` (all when
    ``count`` is None or >= total): annotation files are often sorted by
    class, so the first N clips would all be one class."""
    if count is None or count >= total:
        return list(range(total))
    if count <= 0:
        return []
    return sorted(
        set(np.linspace(0, total - 1, count).round().astype(int).tolist()))


def iter_clips(cfg: Union[str, Config],
               video: Optional[str] = None,
               max_clips: Optional[int] = None) -> Iterator[Clip]:
    """Yield model-ready clips: ``video`` alone when given, else up to
    ``max_clips`` clips of the config's test dataloader's dataset (spread
    evenly over it; all of them when None), each with its label.

    Raises:
        FileNotFoundError: the video, annotation file or a clip is missing
            (naming it).
        ValueError: the config has no test dataloader / pipeline.
    """
    from mmaction.registry import DATASETS
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    if video is not None:
        yield video_clip(cfg, video)
        return
    loader = _test_loader(cfg)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset_cfg = copy.deepcopy(loader.dataset)
    ann_file = dataset_cfg.get('ann_file')
    if ann_file and not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'the test annotation file {ann_file} (test_dataloader.dataset.'
            'ann_file) does not exist: no clips to read')
    dataset = DATASETS.build(dataset_cfg)
    for index in spread_indices(len(dataset), max_clips):
        info = dataset.get_data_info(index)
        source = info.get('filename', f'test set item {index}')
        sample = dataset[index]
        label = sample['data_samples'].gt_label
        label = int(label.reshape(-1)[0]) if torch.is_tensor(label) and \
            label.numel() else int(info.get('label', -1))
        yield Clip(_checked_inputs(sample['inputs'], source), label, source)
