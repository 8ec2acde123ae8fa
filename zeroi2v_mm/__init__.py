"""zeroi2v_mm: zero-cost and compressive image-to-video adaptation for
MMAction2.

``import zeroi2v_mm`` (or ``custom_imports=dict(imports=['zeroi2v_mm'])`` in a
config) fixes the pinned OpenMMLab stack (see :mod:`zeroi2v_mm.compat`) and
registers the backbone, head, hooks and dataset into MMAction2's registries.
"""
from . import compat

compat.apply_all()
# Under `mim train/test mmaction` only: a known error of this package that
# ends the process prints as one message (zeroi2v_mm/utils/cli.py).
from .utils.cli import install_excepthook  # noqa: E402

install_excepthook()

import mmaction.models  # noqa: E402,F401  (MMAction2's own registrations)

from .datasets import *  # noqa: E402,F401,F403
from .engine import *  # noqa: E402,F401,F403
from .evaluation import *  # noqa: E402,F401,F403
from .models import *  # noqa: E402,F401,F403
from .reparam import merge_adapters  # noqa: E402,F401

__version__ = '0.1.0'
