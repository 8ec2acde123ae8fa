"""Fixes for the pinned OpenMMLab stack (requirements.txt).

Rules every fix here follows (tests/test_compat.py,
tests/utils/test_safety_*.py):

* It names the upstream issue it works around and the release that fixes it
  (none yet, for each of them, as of mmaction2 1.2.0 / mmengine 0.10.7).
* It checks whether the installed version still has the problem and does
  nothing when it does not.
* ``import zeroi2v_mm`` changes nothing another project would notice: no
  MMEngine loader or file backend is replaced, non-CUDA accelerators (NPU,
  MLU, MUSA) keep MMEngine's own code path. Safe checkpoint loading is turned
  on for this package's runs only (see :func:`use_safe_checkpoint_loader`).
"""
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import logging
import os.path as osp
import sys
import types
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.dist import utils as dist_utils
from mmengine.logging import print_log
from mmengine.model.wrappers import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader

from .utils.checkpoint import called_from, load_checkpoint_file


class MissingDRN:
    """Stands in for MMAction2's DRN localizer, absent from the 1.2.0 wheel."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            'DRN is not part of the mmaction2 1.2.0 wheel '
            '(mmaction/models/localizers/drn/ is missing); install mmaction2 '
            'from source to use it.')


def fix_missing_drn_module() -> bool:
    """Make ``import mmaction.models`` work with the mmaction2 1.2.0 wheel.

    Upstream: open-mmlab/mmaction2#2714 ("ModuleNotFoundError: No module named
    'mmaction.models.localizers.drn'", open; no release fixes it as of
    1.2.0). The wheel's ``mmaction/models/localizers/__init__.py`` imports
    ``.drn.drn`` but the folder was left out of the wheel. Placeholder modules
    are put into ``sys.modules`` before ``mmaction.models`` is imported, so
    everything else in MMAction2 registers normally. DRN itself is not
    registered: using it fails with a message saying why.

    Off when the installed mmaction2 has ``localizers/drn/`` (a source
    install, a fixed wheel) or the module is already importable.

    Returns:
        bool: True if the placeholder was installed.
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    package_dir = list(spec.submodule_search_locations)[0]
    if osp.isdir(osp.join(package_dir, 'models', 'localizers', 'drn')):
        return False
    name = 'mmaction.models.localizers.drn'
    if name in sys.modules:
        return False
    drn_package = types.ModuleType(name)
    drn_package.__path__ = []  # a package, so that `.drn.drn` resolves
    drn_module = types.ModuleType(name + '.drn')
    drn_module.DRN = MissingDRN
    drn_package.drn = drn_module
    sys.modules[name] = drn_package
    sys.modules[name + '.drn'] = drn_module
    return True


# --------------------------------------------------------------- checkpoints
def load_from_local_safe(filename, map_location=None):
    """MMEngine local-checkpoint loader that keeps ``weights_only=True``.

    Upstream: open-mmlab/mmengine#1655 ("torch.load weights_only error",
    torch >= 2.6 with mmengine 0.10.7) and the proposed fix
    open-mmlab/mmengine#1650 (passes ``weights_only=False``, i.e. unpickles
    everything); no mmengine release fixes it as of 0.10.7. MMEngine's
    ``load_from_local`` calls ``torch.load`` without ``weights_only``, which
    since torch 2.6 refuses MMEngine's own checkpoints (``HistoryBuffer`` in
    the message hub, numpy scalars). This loader allows exactly those types
    (:func:`zeroi2v_mm.utils.checkpoint.mmengine_safe_globals`) and refuses
    anything else with the file, the type and the opt-in for trusted files.
    """
    return load_checkpoint_file(filename, map_location=map_location)


def _safe_globals_supported() -> bool:
    """torch >= 2.5 has the scoped ``safe_globals`` context manager."""
    return hasattr(torch.serialization, 'safe_globals')


def _swap_local_loader(loader):
    """Install ``loader`` as MMEngine's loader for local paths; return the
    one it replaces."""
    previous = CheckpointLoader._schemes.get('')
    CheckpointLoader._schemes[''] = loader
    return previous


@contextmanager
def safe_checkpoint_loader() -> Iterator[None]:
    """Within the block, MMEngine reads local checkpoints (``load_from``,
    ``--resume``, ``load_checkpoint``) through :func:`load_from_local_safe`;
    the previous loader (MMEngine's, or another package's) comes back after.

    Used by ``tools/train.py``, ``tools/test.py`` and
    ``tools/merge_adapters.py`` around the whole run.
    """
    if not _safe_globals_supported():
        yield
        return
    previous = _swap_local_loader(load_from_local_safe)
    try:
        yield
    finally:
        if previous is None:
            CheckpointLoader._schemes.pop('', None)
        else:
            CheckpointLoader._schemes[''] = previous


def use_safe_checkpoint_loader() -> bool:
    """Turn :func:`load_from_local_safe` on for the rest of this process.

    Called when a model of this package is built (``ZeroI2VViT``), when a
    config's ``custom_imports`` imports the package, and by
    ``zeroi2v_mm.apis``, so that ``mim test mmaction`` / ``mim train``
    (MMAction2's own tools), ``init_recognizer``, ``MMAction2Inferencer`` and
    any runner of one of our models load their checkpoints safely. A process
    that only imports the package keeps MMEngine's loader. Idempotent.
    Returns whether the loader is active.
    """
    if not _safe_globals_supported():
        return False
    if CheckpointLoader._schemes.get('') is not load_from_local_safe:
        _swap_local_loader(load_from_local_safe)
    return True


def imported_by_a_config() -> bool:
    """Whether the running import of ``zeroi2v_mm`` comes from a config's
    ``custom_imports`` (MMEngine's ``import_modules_from_strings`` on the
    call stack, found by its code object): a config that uses the plugin,
    whose checkpoints are then read by MMAction2's inferencer before any model
    of ours is built."""
    from mmengine.utils import misc
    return called_from(misc.import_modules_from_strings)


# --------------------------------------------------------------- distributed
_init_dist_pytorch_original = dist_utils._init_dist_pytorch


def _other_accelerator_available() -> bool:
    """NPU, MLU, MUSA (or CUDA): MMEngine's own code handles those."""
    from mmengine.device import utils as device_utils
    checks = ('is_cuda_available', 'is_npu_available', 'is_mlu_available',
              'is_musa_available', 'is_dipu_available')
    return any(getattr(device_utils, name, lambda: False)() for name in checks)


def init_dist_pytorch_cpu_aware(backend, init_backend='torch', **kwargs):
    """MMEngine's torchrun initialisation, also on machines without any
    accelerator.

    Only a host with no CUDA, NPU, MLU or MUSA device is changed: there the
    process group is created with gloo (NCCL needs GPUs) and no device is set.
    Every other host takes MMEngine's own path unchanged.
    """
    if _other_accelerator_available() or init_backend != 'torch':
        return _init_dist_pytorch_original(backend, init_backend, **kwargs)
    torch_dist.init_process_group(
        backend='gloo' if backend == 'nccl' else backend, **kwargs)


def cpu_distributed_fix_needed() -> bool:
    """Whether the installed MMEngine sets a CUDA device unconditionally in
    its pytorch-launcher initialisation (true for 0.10.7)."""
    try:
        source = inspect.getsource(_init_dist_pytorch_original)
    except (OSError, TypeError):
        return False
    return 'torch.cuda.set_device' in source


def fix_cpu_distributed() -> bool:
    """CPU DDP (gloo): launcher initialisation and the DDP wrapper.

    No upstream issue was found for this (searched open-mmlab/mmengine issues
    for CPU with the pytorch launcher); no release fixes it as of 0.10.7:
    ``_init_dist_pytorch`` calls ``torch.cuda.set_device`` on every host
    without an NPU/MLU/MUSA, and ``Runner.wrap_model`` passes
    ``device_ids=[LOCAL_RANK]`` to DDP, which torch refuses for a module on
    the CPU. The wrapper change applies to CPU modules only; a module on any
    accelerator is wrapped exactly as MMEngine does it.

    Returns:
        bool: whether the fix was applied (off when not needed).
    """
    if not cpu_distributed_fix_needed():
        return False
    dist_utils._init_dist_pytorch = init_dist_pytorch_cpu_aware
    if getattr(MMDistributedDataParallel.__init__, '_cpu_aware', False):
        return True
    original_init = MMDistributedDataParallel.__init__

    def init(self, module, detect_anomalous_params=False, **kwargs):
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        original_init(
            self,
            module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)

    init._cpu_aware = True
    MMDistributedDataParallel.__init__ = init
    return True


# ------------------------------------------------ mmcv.ops with mmcv-lite
# Installed by the AVA detector when it is built (models/detectors), never
# by importing the package.
def mmcv_ops_available() -> bool:
    """Whether the compiled ``mmcv.ops`` (full mmcv, not mmcv-lite) can be
    used. Looks for the compiled extension: a placeholder ``mmcv.ops`` (see
    :func:`install_mmcv_ops_placeholders`) does
    not count."""
    try:
        if importlib.util.find_spec('mmcv._ext') is None:
            return False
        from mmcv.ops import RoIAlign  # noqa: F401
    except Exception:  # ImportError, or a broken build raising anything else
        return False
    return True


class MissingMMCVOp(nn.Module):
    """Base of the placeholders for ``mmcv.ops`` names under mmcv-lite:
    classes, so that mmdet can subclass and register them at import time;
    creating (or, for functions, calling) one raises ImportError."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            f'{type(self).__module__}.{type(self).__name__} needs mmcv\'s '
            'compiled ops, which mmcv-lite does not have (zeroi2v_mm put a '
            'placeholder there so that mmdet\'s model zoo imports). Install '
            'full mmcv 2.1.0 to use it; the AVA detector of zeroi2v_mm '
            'needs none of them (its RoI extractor runs on torchvision).')


class PlaceholderOpsModule(types.ModuleType):
    """``mmcv.ops`` (or a submodule) whose every public name is a
    :class:`MissingMMCVOp` subclass, made on first access."""

    zeroi2v_placeholder = True

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        placeholder = type(name, (MissingMMCVOp, ), {
            '__module__': self.__name__,
            '__qualname__': name,
        })
        setattr(self, name, placeholder)
        return placeholder


class PlaceholderOpsFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook answering ``mmcv.ops`` and ``mmcv.ops.*`` with
    :class:`PlaceholderOpsModule` packages."""

    @staticmethod
    def handles(fullname: str) -> bool:
        return fullname == 'mmcv.ops' or fullname.startswith('mmcv.ops.')

    def find_spec(self, fullname, path=None, target=None):
        if not self.handles(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return PlaceholderOpsModule(spec.name)

    def exec_module(self, module) -> None:
        module.__path__ = []  # a package: its submodules come from here too


def mmcv_ops_placeholders_installed() -> bool:
    return any(
        isinstance(finder, PlaceholderOpsFinder) for finder in sys.meta_path)


def install_mmcv_ops_placeholders() -> bool:
    """With mmcv-lite, make ``import mmcv.ops`` (and its submodules) give
    placeholders instead of failing on the missing compiled extension.

    Nothing changes when the compiled ops are there (full mmcv). Idempotent.

    Returns:
        bool: True if placeholders are (now) in use.
    """
    if mmcv_ops_available():
        return False
    if not mmcv_ops_placeholders_installed():
        existing = sys.modules.get('mmcv.ops')
        if existing is not None and not isinstance(existing,
                                                   PlaceholderOpsModule):
            return False  # someone else provides mmcv.ops: leave it alone
        sys.meta_path.insert(0, PlaceholderOpsFinder())
        print_log(
            'mmcv-lite (no compiled mmcv.ops): zeroi2v_mm put placeholder '
            "mmcv.ops modules in place so that mmdet's model zoo imports; "
            'they raise if called. RoIs are pooled with torchvision '
            '(ZeroI2VRoIExtractor3D).',
            logger='current',
            level=logging.INFO)
    # mmcv.cnn's transformer bricks tried `from mmcv.ops import ...` before
    # the placeholders existed and left the name undefined; mmdet imports it
    # from there.
    transformer = sys.modules.get('mmcv.cnn.bricks.transformer')
    if transformer is not None and not hasattr(
            transformer, 'MultiScaleDeformableAttention'):
        from mmcv.ops.multi_scale_deform_attn import \
            MultiScaleDeformableAttention
        transformer.MultiScaleDeformableAttention = \
            MultiScaleDeformableAttention
    return True


def apply_all() -> None:
    fix_missing_drn_module()
    fix_cpu_distributed()
    # A config naming the plugin is a run of the plugin: its checkpoints load
    # safely from the start (MMAction2Inferencer reads the checkpoint before
    # it builds the model). A plain `import zeroi2v_mm` changes nothing.
    if imported_by_a_config():
        use_safe_checkpoint_loader()
    # Registers the opt-in 'zeroi2v_atomic' backend under its own name;
    # MMEngine's LocalBackend is untouched.
    from .utils import file_backend  # noqa: F401
