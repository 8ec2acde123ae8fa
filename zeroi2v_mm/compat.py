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
from mmengine.runner.checkpoint import CheckpointLoader


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


def apply_all() -> None:
    fix_missing_drn_module()
    fix_checkpoint_loading()
