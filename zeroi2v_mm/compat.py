"""Fixes for the pinned OpenMMLab stack (DESIGN.md section 4).

Each fix is applied once, on ``import zeroi2v_mm``, and is covered by
``tests/test_compat.py``. They change nothing when the underlying problem is
absent (a source install of mmaction2, an older torch).
"""
import importlib.util
import os.path as osp
import sys
import types

import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as dist_utils
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.model.wrappers import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader

from .utils.io import atomic_write


class MissingDRN:
    """Stands in for MMAction2's DRN localizer, absent from the 1.2.0 wheel."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            'DRN is not part of the mmaction2 1.2.0 wheel '
            '(mmaction/models/localizers/drn/ is missing); install mmaction2 '
            'from source to use it.')


def fix_missing_drn_module() -> bool:
    """Make ``import mmaction.models`` work with the mmaction2 1.2.0 wheel.

    The wheel's ``mmaction/models/localizers/__init__.py`` imports
    ``.drn.drn`` but the folder was left out of the wheel. Placeholder modules
    are put into ``sys.modules`` before ``mmaction.models`` is imported, so
    everything else in MMAction2 registers normally. DRN itself is not
    registered: using it fails with a message saying why.

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


def load_trusted_local_checkpoint(filename, map_location):
    """MMEngine's local checkpoint loader without torch>=2.6's weights_only.

    MMEngine checkpoints hold the message hub, numpy scalars and config
    objects next to the weights, which ``torch.load(weights_only=True)`` (the
    default since torch 2.6) refuses. Local checkpoints are files the user
    chose to load, as they were before torch 2.6, so they load fully.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    return torch.load(filename, map_location=map_location, weights_only=False)


def fix_checkpoint_loading() -> None:
    """Route MMEngine's local checkpoint loading (load_from, --resume,
    ``mim test``) through :func:`load_trusted_local_checkpoint`."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_trusted_local_checkpoint, force=True)


_init_dist_pytorch_original = dist_utils._init_dist_pytorch


def init_dist_pytorch_cpu_aware(backend, init_backend='torch', **kwargs):
    """MMEngine's torchrun initialisation, also on machines without a GPU.

    MMEngine calls ``torch.cuda.set_device`` unconditionally, so
    ``--launcher pytorch`` fails on CPU. Without CUDA the process group is
    created with gloo (NCCL needs GPUs) and no device is set.
    """
    if torch.cuda.is_available() or init_backend != 'torch':
        return _init_dist_pytorch_original(backend, init_backend, **kwargs)
    torch_dist.init_process_group(
        backend='gloo' if backend == 'nccl' else backend, **kwargs)


def fix_cpu_distributed() -> None:
    """CPU DDP (gloo): launcher initialisation and the DDP wrapper.

    MMEngine's runner passes ``device_ids=[LOCAL_RANK]`` to DDP, which torch
    refuses for a module on the CPU; there it must be None.
    """
    dist_utils._init_dist_pytorch = init_dist_pytorch_cpu_aware
    if getattr(MMDistributedDataParallel.__init__, '_cpu_aware', False):
        return
    original_init = MMDistributedDataParallel.__init__

    def init(self, module, detect_anomalous_params=False, **kwargs):
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        original_init(self, module,
                      detect_anomalous_params=detect_anomalous_params,
                      **kwargs)

    init._cpu_aware = True
    MMDistributedDataParallel.__init__ = init


def _atomic_put(self, obj: bytes, filepath) -> None:
    def write(tmp_path):
        with open(tmp_path, 'wb') as f:
            f.write(obj)
    atomic_write(str(filepath), write)


def _atomic_put_text(self, obj: str, filepath, encoding: str = 'utf-8'):
    def write(tmp_path):
        with open(tmp_path, 'w', encoding=encoding) as f:
            f.write(obj)
    atomic_write(str(filepath), write)


def fix_atomic_local_writes() -> None:
    """Make MMEngine's local file writes (checkpoints, ``last_checkpoint``)
    atomic: a temporary file in the same folder, then a rename. A run killed
    while saving leaves the previous file intact, never half a file."""
    LocalBackend.put = _atomic_put
    LocalBackend.put_text = _atomic_put_text


def apply_all() -> None:
    fix_missing_drn_module()
    fix_checkpoint_loading()
    fix_cpu_distributed()
    fix_atomic_local_writes()
