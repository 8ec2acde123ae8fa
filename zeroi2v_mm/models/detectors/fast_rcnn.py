"""Spatio-temporal action detection (AVA) with a ZeroI2V backbone.

MMAction2 detects actions with MMDetection's ``FastRCNN`` and its own AVA
parts (``AVARoIHead``, ``BBoxHeadAVA``, ``MaxIoUAssignerAVA``), which it
registers into mmdet's registries inside ``try/except ImportError``. On the
pinned stack (mmcv-lite 2.1.0, mmdet 3.3.0) that fails silently twice
over:

- without mmdet, the parts are never registered and a config fails with
  "FastRCNN is not in the registry";
- with mmdet but mmcv-lite, ``import mmdet.models`` itself fails (it imports
  ``mmcv.ops`` at module level for NMS, deformable convolutions, ...), so the
  AVA parts are again silently missing.

``type='ZeroI2VFastRCNN'`` (this module) is MMDetection's ``FastRCNN`` built
after :func:`require_mmdet`: a clear ImportError naming the install command
when mmdet is absent; with mmcv-lite, placeholder ``mmcv.ops`` modules so that
mmdet's model zoo imports (none of those ops is used by the AVA detector; the
RoIs are pooled by :class:`~zeroi2v_mm.models.roi_extractors.
ZeroI2VRoIExtractor3D` on torchvision; a placeholder raises a clear error if
anything calls it); then MMAction2's AVA parts are registered into mmdet's
registries.
"""
import importlib
import importlib.util
from typing import List, Optional, Sequence

import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from torch import Tensor

from mmaction.registry import MODELS

from ...compat import install_mmcv_ops_placeholders

MMDET_VERSION = '3.3.0'
MMDET_INSTALL = (f'pip install mmdet=={MMDET_VERSION} (the [ava] extra of '
                 'zeroi2v_mm: pip install -e ".[ava]" in its checkout)')

#: MMAction2's AVA modules that it registers into mmdet's MODELS registry.
MMACTION_AVA_MODELS = (
    ('mmaction.models.roi_heads.roi_head', 'AVARoIHead'),
    ('mmaction.models.roi_heads.bbox_heads.bbox_head', 'BBoxHeadAVA'),
    ('mmaction.models.roi_heads.roi_extractors.single_straight3d',
     'SingleRoIExtractor3D'),
    ('mmaction.models.roi_heads.shared_heads.acrn_head', 'ACRNHead'),
    ('mmaction.models.roi_heads.shared_heads.fbo_head', 'FBOHead'),
    ('mmaction.models.roi_heads.shared_heads.lfb_infer_head', 'LFBInferHead'),
)
#: ... and into mmdet's TASK_UTILS registry.
MMACTION_AVA_TASK_UTILS = (
    ('mmaction.models.task_modules.assigners.max_iou_assigner_ava',
     'MaxIoUAssignerAVA'), )


# --------------------------------------------------------------- mmdet
def mmdet_available() -> bool:
    """Whether mmdet is installed (not imported: that is slow)."""
    return importlib.util.find_spec('mmdet') is not None


def require_mmdet(feature: str = 'Spatio-temporal action detection (AVA)'
                  ) -> None:
    """Make MMDetection and MMAction2's AVA parts usable, or say how.

    Raises:
        ImportError: mmdet is not installed, with the command that installs
            it (instead of MMAction2's silent registry miss).
    """
    try:
        import mmdet  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f'{feature} needs MMDetection, which is not installed: '
            f'{MMDET_INSTALL}. MMAction2 builds its AVA detector from '
            "mmdet's FastRCNN and registers AVARoIHead, BBoxHeadAVA and "
            'MaxIoUAssignerAVA only when mmdet imports; without it they '
            'are reported as "not in the registry".') from error
    install_mmcv_ops_placeholders()
    import mmdet.models  # noqa: F401  (registers FastRCNN & co.)
    register_mmaction_ava_modules()


def _register(registry, entries) -> List[str]:
    added = []
    for module_name, name in entries:
        if name in registry.module_dict:
            continue
        module = importlib.import_module(module_name)
        registry.register_module(name=name, module=getattr(module, name))
        added.append(name)
    return added


def register_mmaction_ava_modules() -> List[str]:
    """Register MMAction2's AVA parts into mmdet's registries, as
    ``mmaction.models.roi_heads`` and ``mmaction.models.task_modules`` do
    when their imports succeed. Idempotent.

    Returns:
        list: the names registered now (empty if they already were).
    """
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
    return (_register(MMDET_MODELS, MMACTION_AVA_MODELS) +
            _register(MMDET_TASK_UTILS, MMACTION_AVA_TASK_UTILS))


# ------------------------------------------------------------ detector
_DETECTOR_CLASS: Optional[type] = None


def zeroi2v_fast_rcnn_class() -> type:
    """MMDetection's ``FastRCNN`` with a usable ``mode='tensor'`` (defined
    on first use, after :func:`require_mmdet`)."""
    global _DETECTOR_CLASS
    require_mmdet()  # every time: cheap once done, and mmdet may have gone
    if _DETECTOR_CLASS is not None:
        return _DETECTOR_CLASS
    from mmdet.models.detectors import FastRCNN
    from mmdet.structures.bbox import bbox2roi

    class ZeroI2VFastRCNN(FastRCNN):
        """MMDetection's ``FastRCNN`` as MMAction2 uses it for AVA, with
        ``forward(mode='tensor')`` working for MMAction2's AVA RoI head.

        ``mode='tensor'`` (``_forward``) returns:

        - the per-RoI class logits ``(sum of RoIs, num_classes)`` when the
          data samples carry ``proposals`` (what ``predict`` scores, before
          the sigmoid);
        - the backbone's feature map ``(N, C, T, H/p, W/p)`` when no data
          samples are given (proposals unknown): what FLOP counters trace
          and what the ``MergeAdaptersHook`` compares after merging (the
          merge changes only the backbone).

        mmdet's own ``_forward`` calls the RoI head in a way MMAction2's
        ``AVARoIHead`` does not accept and needs proposals in any case.
        """

        def _forward(self,
                     batch_inputs: Tensor,
                     batch_data_samples: Optional[Sequence] = None):
            feats = self.extract_feat(batch_inputs)
            if batch_data_samples is None:
                return feats
            return self.roi_logits(feats, batch_data_samples)

        def roi_logits(self, feats, batch_data_samples) -> Tensor:
            """Class logits of every proposal, samples concatenated."""
            missing = [
                i for i, sample in enumerate(batch_data_samples)
                if sample.get('proposals', None) is None
            ]
            if missing:
                raise ValueError(f'data samples {missing} have no proposals:'
                                 ' the AVA detector scores given boxes')
            rois = bbox2roi(
                [sample.proposals.bboxes for sample in batch_data_samples])
            metas = [sample.metainfo for sample in batch_data_samples]
            return self.roi_head._bbox_forward(feats, rois, metas)['cls_score']

    # A module attribute under its own name, so that pickle finds it.
    ZeroI2VFastRCNN.__module__ = __name__
    ZeroI2VFastRCNN.__qualname__ = 'ZeroI2VFastRCNN'
    globals()['ZeroI2VFastRCNN'] = ZeroI2VFastRCNN
    _DETECTOR_CLASS = ZeroI2VFastRCNN
    return _DETECTOR_CLASS


def build_zeroi2v_fast_rcnn(**kwargs) -> nn.Module:
    """Registry entry ``type='ZeroI2VFastRCNN'``: MMDetection's ``FastRCNN``
    (see :func:`zeroi2v_fast_rcnn_class`), after checking that mmdet is
    installed.

    The arguments are FastRCNN's; they are built in mmdet's scope, exactly as
    ``type='FastRCNN', _scope_='mmdet'`` in MMAction2's AVA configs: name
    MMAction2 modules with their scope (``'mmaction.ZeroI2VViT'``,
    ``'mmaction.ActionDataPreprocessor'``,
    ``'mmaction.ZeroI2VRoIExtractor3D'``).
    """
    detector_class = zeroi2v_fast_rcnn_class()
    # mmdet reads nested settings as attributes (train_cfg.rcnn).
    kwargs = ConfigDict(kwargs)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return detector_class(**kwargs)


MODELS.register_module(name='ZeroI2VFastRCNN', module=build_zeroi2v_fast_rcnn)
