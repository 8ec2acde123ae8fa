"""RoI feature extraction for spatio-temporal action detection (AVA) that runs
with mmcv-lite.

MMAction2's :class:`SingleRoIExtractor3D` builds ``mmcv.ops.RoIAlign``, which
mmcv-lite (the pinned stack's mmcv, README "Install") does not have.
:class:`ZeroI2VRoIExtractor3D` is the same extractor (same arguments, same
forward code, same state dict: none) with the RoI layer taken from
``mmcv.ops`` when the compiled ops are installed and from
``torchvision.ops.roi_align`` otherwise.

:class:`TorchvisionRoIAlign` reproduces ``mmcv.ops.RoIAlign`` exactly, with
the same sampling points and weights (both are Detectron2's kernel; mmcv's own
``RoIAlign(use_torchvision=True)`` delegates to the same torchvision op):

- ``aligned=True``: box corners shifted by -0.5 pixel after scaling;
  ``aligned=False``: no shift, boxes smaller than one pixel grown to one;
- ``sampling_ratio=0``: ``ceil(roi_size / output_size)`` samples per bin
  side, per RoI; ``> 0``: that many;
- ``pool_mode='avg'``: mean of the bilinear samples of a bin (0 for an empty
  grid); ``'max'``: their maximum (mmcv's -10000 for an empty grid).
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.utils import _pair
from torchvision.ops import roi_align

from mmaction.models.roi_heads.roi_extractors.single_straight3d import \
    SingleRoIExtractor3D
from mmaction.registry import MODELS

from ...compat import mmcv_ops_available

# What mmcv's max-pooled RoIAlign outputs for a bin without samples.
MMCV_EMPTY_MAX = -10000.0

BACKENDS = ('auto', 'mmcv', 'torchvision')


class TorchvisionRoIAlign(nn.Module):
    """``mmcv.ops.RoIAlign`` on ``torchvision.ops.roi_align``.

    Args:
        output_size (int | tuple): ``(height, width)`` of the pooled output.
        spatial_scale (float): Box coordinates -> feature map coordinates
            (``1 / featmap_stride``).
        sampling_ratio (int): Samples per bin side; 0 = adaptive
            (``ceil(roi_size / output_size)``).
        pool_mode (str): ``'avg'`` or ``'max'`` over the samples of a bin.
        aligned (bool): Shift the scaled boxes by -0.5 pixel (Detectron2).

    Shapes: ``input (N, C, H, W)``, ``rois (K, 5)`` as ``(batch index, x1,
    y1, x2, y2)`` in input-image pixels -> ``(K, C, *output_size)``.
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 pool_mode: str = 'avg',
                 aligned: bool = True):
        super().__init__()
        if pool_mode not in ('avg', 'max'):
            raise ValueError(f"pool_mode={pool_mode!r}: choose 'avg' or "
                             "'max'")
        if int(sampling_ratio) != sampling_ratio or sampling_ratio < 0:
            raise ValueError(f'sampling_ratio={sampling_ratio!r} must be an '
                             'integer >= 0')
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        if rois.dim() != 2 or rois.shape[1] != 5:
            raise ValueError('rois must be (K, 5) as (batch index, x1, y1, '
                             f'x2, y2), got {tuple(rois.shape)}')
        rois = rois.to(input.dtype)
        if self.pool_mode == 'avg':
            return roi_align(input, rois, self.output_size, self.spatial_scale,
                             self.sampling_ratio, self.aligned)
        return self._max_pool(input, rois)

    def _grid(self, rois: Tensor) -> Tuple[Tensor, Tensor]:
        """Samples per bin side of every RoI, as mmcv computes them."""
        count = rois.shape[0]
        if self.sampling_ratio > 0:
            full = rois.new_full((count, ),
                                 self.sampling_ratio,
                                 dtype=torch.long)
            return full, full
        offset = 0.5 if self.aligned else 0.0
        scaled = rois[:, 1:] * self.spatial_scale - offset
        width = scaled[:, 2] - scaled[:, 0]
        height = scaled[:, 3] - scaled[:, 1]
        if not self.aligned:
            width, height = width.clamp(min=1.0), height.clamp(min=1.0)
        out_h, out_w = self.output_size
        return (torch.ceil(height / out_h).long(),
                torch.ceil(width / out_w).long())

    def _max_pool(self, input: Tensor, rois: Tensor) -> Tensor:
        """Max over the samples of each bin: the samples of a (g_h x g_w)
        grid per bin are the bin centres of a (h g_h, w g_w) RoIAlign with
        one sample per bin, so one torchvision call per grid size, then a
        (g_h, g_w) max pool."""
        out_h, out_w = self.output_size
        grid_h, grid_w = self._grid(rois)
        output = input.new_full((rois.shape[0], input.shape[1], out_h, out_w),
                                MMCV_EMPTY_MAX)
        for gh, gw in {(int(h), int(w))
                       for h, w in zip(grid_h.tolist(), grid_w.tolist())}:
            if gh <= 0 or gw <= 0:
                continue  # no samples: mmcv's -10000 stays
            index = ((grid_h == gh) & (grid_w == gw)).nonzero()[:, 0]
            samples = roi_align(input, rois[index], (out_h * gh, out_w * gw),
                                self.spatial_scale, 1, self.aligned)
            output = output.index_copy(
                0, index, F.max_pool2d(samples, (gh, gw), (gh, gw)))
        return output

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, '
                f'spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}, '
                f'pool_mode={self.pool_mode!r}, aligned={self.aligned}')


def build_roi_layer(roi_layer_type: str,
                    output_size,
                    spatial_scale: float,
                    sampling_ratio: int = 0,
                    pool_mode: str = 'avg',
                    aligned: bool = True,
                    backend: str = 'auto') -> nn.Module:
    """The RoI layer of :class:`ZeroI2VRoIExtractor3D`.

    Args:
        backend (str): ``'mmcv'`` (``mmcv.ops``; an error if it is missing),
            ``'torchvision'``, or ``'auto'``: mmcv when its compiled ops are
            installed, torchvision otherwise.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend={backend!r}: choose from {BACKENDS}')
    if roi_layer_type not in ('RoIAlign', 'RoIPool'):
        raise ValueError(f"roi_layer_type={roi_layer_type!r}: choose "
                         "'RoIAlign' or 'RoIPool'")
    use_mmcv = backend == 'mmcv' or (backend == 'auto'
                                     and mmcv_ops_available())
    if use_mmcv:
        if not mmcv_ops_available():
            raise ImportError(
                "backend='mmcv' needs mmcv's compiled ops (mmcv.ops), which "
                'mmcv-lite does not have: install full mmcv 2.1.0 or use '
                "backend='torchvision' (or 'auto')")
        from mmcv.ops import RoIAlign, RoIPool
        if roi_layer_type == 'RoIPool':
            return RoIPool(output_size, spatial_scale)
        return RoIAlign(
            output_size,
            spatial_scale,
            sampling_ratio=sampling_ratio,
            pool_mode=pool_mode,
            aligned=aligned)
    if roi_layer_type == 'RoIPool':
        # torchvision.ops.roi_pool rounds the boxes to whole pixels, mmcv's
        # RoIPool does not: the two pool different regions.
        raise NotImplementedError(
            "roi_layer_type='RoIPool' needs mmcv.ops (full mmcv 2.1.0); "
            "torchvision's roi_pool rounds boxes differently. Use "
            "roi_layer_type='RoIAlign' (MMAction2's AVA configs do).")
    return TorchvisionRoIAlign(
        output_size,
        spatial_scale,
        sampling_ratio=sampling_ratio,
        pool_mode=pool_mode,
        aligned=aligned)


@MODELS.register_module()
class ZeroI2VRoIExtractor3D(SingleRoIExtractor3D):
    """MMAction2's ``SingleRoIExtractor3D`` that also works with mmcv-lite.

    Arguments and behaviour are those of MMAction2's extractor (temporal
    pooling of the feature map, RoIAlign per remaining frame, optional global
    feature); the RoI layer comes from :func:`build_roi_layer`. Use it in an
    ``AVARoIHead`` as ``bbox_roi_extractor=dict(
    type='mmaction.ZeroI2VRoIExtractor3D', ...)``.

    Args:
        featmap_stride (int): Input pixels per feature map cell: the ViT's
            patch size (16 for ViT-B/16).
        backend (str): ``'auto'`` (mmcv.ops if installed, else torchvision),
            ``'mmcv'`` or ``'torchvision'``.
        others: see MMAction2's ``SingleRoIExtractor3D``.

    Shapes: ``feat (N, C, T, H, W)`` (or a tuple of them), ``rois (K, 5)`` ->
    ``(K, C, T', out_h, out_w)`` (T' = 1 with temporal pooling) and the
    (pooled) feature map.
    """

    def __init__(self,
                 roi_layer_type: str = 'RoIAlign',
                 featmap_stride: int = 16,
                 output_size: Union[int, Sequence[int]] = 16,
                 sampling_ratio: int = 0,
                 pool_mode: str = 'avg',
                 aligned: bool = True,
                 with_temporal_pool: bool = True,
                 temporal_pool_mode: str = 'avg',
                 with_global: bool = False,
                 backend: str = 'auto') -> None:
        # MMAction2's __init__ imports mmcv.ops unconditionally: set up the
        # same attributes here, with our RoI layer.
        nn.Module.__init__(self)
        if temporal_pool_mode not in ('avg', 'max'):
            raise ValueError(f'temporal_pool_mode={temporal_pool_mode!r}: '
                             "choose 'avg' or 'max'")
        self.roi_layer_type = roi_layer_type
        self.featmap_stride = featmap_stride
        self.spatial_scale = 1. / featmap_stride
        self.output_size = output_size
        self.sampling_ratio = sampling_ratio
        self.pool_mode = pool_mode
        self.aligned = aligned
        self.with_temporal_pool = with_temporal_pool
        self.temporal_pool_mode = temporal_pool_mode
        self.with_global = with_global
        self.backend = backend
        self.roi_layer = build_roi_layer(
            roi_layer_type,
            output_size,
            self.spatial_scale,
            sampling_ratio=sampling_ratio,
            pool_mode=pool_mode,
            aligned=aligned,
            backend=backend)
        self.global_pool = nn.AdaptiveAvgPool2d(output_size)

    def init_weights(self) -> None:
        """No parameters (called by MMEngine's BaseModule parents)."""

    def forward(self, feat: Union[Tensor, Tuple[Tensor]],
                rois: Tensor) -> tuple:
        """See MMAction2's ``SingleRoIExtractor3D.forward``; checks shapes."""
        first = feat[0] if isinstance(feat, (tuple, list)) else feat
        if first.dim() != 5:
            raise ValueError('ZeroI2VRoIExtractor3D expects (N, C, T, H, W) '
                             f'feature maps, got {tuple(first.shape)}: build '
                             "the backbone with output='feature_map'")
        if isinstance(feat, list):
            feat = tuple(feat)
        return super().forward(feat, rois)


def roi_layer_backend(extractor: nn.Module) -> Optional[str]:
    """``'mmcv'`` or ``'torchvision'``: which library pools the RoIs of an
    extractor (None if it has no ``roi_layer``)."""
    layer = getattr(extractor, 'roi_layer', None)
    if layer is None:
        return None
    return 'torchvision' if isinstance(layer, TorchvisionRoIAlign) else 'mmcv'
