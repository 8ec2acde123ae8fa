"""Read checkpoint files without running code from them.

``torch.load(weights_only=False)`` unpickles a file in full: a crafted
``.pth`` runs any code it likes while loading. Since torch 2.6 ``torch.load``
defaults to ``weights_only=True``, which allows tensors and plain containers
only, and refuses MMEngine's own checkpoints (their message hub holds
``HistoryBuffer`` objects with numpy arrays). This module keeps
``weights_only=True`` and allows exactly the extra types MMEngine checkpoints
contain (:func:`mmengine_safe_globals`), through torch's safe-globals
mechanism, only for the duration of one load. Anything else is refused with
:class:`UnsafeCheckpointError`, naming the file and the type.

Opt-in for a file you trust (e.g. an old checkpoint that pickled a custom
object): list it, or the folder holding it, in the environment variable
``ZEROI2V_TRUSTED_CHECKPOINTS`` (``os.pathsep``-separated); such files load
with ``weights_only=False``, with a warning::

    ZEROI2V_TRUSTED_CHECKPOINTS=/data/old/epoch_40.pth python tools/test.py ...

The opt-in is per file and per process; nothing else changes.
"""
import os
import os.path as osp
import pickle
import re
import sys
import zipfile
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer

TRUST_ENV = 'ZEROI2V_TRUSTED_CHECKPOINTS'


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names it."""


class UnsafeCheckpointError(CheckpointError):
    """The file pickles an object that could run code when loaded."""


class UnreadableCheckpointError(CheckpointError):
    """The file is not a readable checkpoint (corrupt, truncated, other)."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's tensors do not fit the model being loaded."""


# The file most recently read by load_checkpoint_file in this process, so that
# a mismatch found later, while the model loads the tensors, can name it.
_last_read: List[str] = []


def last_read_checkpoint() -> Optional[str]:
    """The path :func:`load_checkpoint_file` read last, if any."""
    return _last_read[-1] if _last_read else None


def called_from(function: Callable) -> bool:
    """Whether ``function`` is running further up the call stack, found by
    the identity of its code object (not its name)."""
    code = function.__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def loading_for_resume() -> bool:
    """Whether the current load runs inside MMEngine's ``Runner.resume``
    (``--resume`` of ``mim train`` or any MMEngine runner). A resumed run
    must get every tensor back; a mismatching classifier is not skipped
    then."""
    from mmengine.runner import Runner
    return called_from(Runner.resume)


# HistoryBuffer keeps its statistics methods in a class-level dict that gets
# pickled as ``getattr(HistoryBuffer, 'min')``. ``builtins.getattr`` in general
# would let a pickle reach any attribute of any allowed object (and from there
# os.system), so only these lookups on HistoryBuffer are answered.
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: getattr({obj!r}, {name!r}) (only '
        f'HistoryBuffer.{"/".join(_HISTORY_BUFFER_METHODS)} are allowed)')


def _numpy_globals() -> List[Any]:
    """numpy's array, scalar and dtype reconstruction, numpy 1.x and 2.x."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    found = [np.ndarray, np.dtype, reconstruct, scalar]
    # numpy >= 1.25 pickles dtypes as instances of numpy.dtypes.*DType.
    dtypes = getattr(np, 'dtypes', None)
    for code in '?bhilqBHILQefdgFDG':
        cls = type(np.dtype(code))
        if cls is not np.dtype and (dtypes is None
                                    or cls.__name__ in vars(dtypes)):
            found.append(cls)
    return list(dict.fromkeys(found))


def mmengine_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals a checkpoint written by MMEngine's runner needs, beyond
    what ``weights_only=True`` allows: MMEngine's ``HistoryBuffer`` (message
    hub), numpy arrays, scalars and dtypes, and ``getattr`` restricted to
    HistoryBuffer's statistics methods."""
    return [
        HistoryBuffer, *_numpy_globals(),
        (_history_buffer_getattr, 'builtins.getattr')
    ]


def trusted(path: str) -> bool:
    """Whether ``path`` is listed (or inside a folder listed) in
    ``ZEROI2V_TRUSTED_CHECKPOINTS``."""
    entries = [
        e for e in os.environ.get(TRUST_ENV, '').split(os.pathsep)
        if e.strip()
    ]
    real = osp.realpath(path)
    for entry in entries:
        entry = osp.realpath(osp.expanduser(entry.strip()))
        if real == entry or real.startswith(entry.rstrip(os.sep) + os.sep):
            return True
    return False


_UNSAFE_PATTERNS = (
    re.compile(r'Unsupported global: GLOBAL (\S+)'),
    re.compile(r'unsupported GLOBAL (\S+)'),
    re.compile(r'got <class \'([^\']+)\'>'),
    re.compile(r'Unsupported global: (getattr\(.*?\))'),
)


def _unsafe_type(message: str) -> Optional[str]:
    """The type or function a weights-only refusal names, or None when the
    error is not a refusal (a corrupt file)."""
    if 'Weights only load failed' not in message:
        return None
    if 'Unsupported operand' in message:
        return None  # not a pickle stream at all (text, garbage): corrupt
    for pattern in _UNSAFE_PATTERNS:
        match = pattern.search(message)
        if match:
            return match.group(1).rstrip('.,')
    return 'an object that weights-only loading does not allow'


def unsafe_message(path: str, type_name: str) -> str:
    return (f'{path}: refused to load: the file pickles {type_name}, which is '
            'neither a tensor nor one of the MMEngine/numpy types MMEngine '
            'checkpoints contain; unpickling it could run code. If you trust '
            f'this file, allow it explicitly: {TRUST_ENV}='
            f'{osp.realpath(path)} (see zeroi2v_mm/utils/checkpoint.py)')


def unreadable_message(path: str, error: BaseException) -> str:
    return (f'{path} is not a readable checkpoint (corrupt, truncated, or '
            f'not a torch.save file): {type(error).__name__}: '
            f'{str(error).splitlines()[0] if str(error) else ""}')


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load`` a local checkpoint, safely.

    Args:
        path: a local file written by ``torch.save`` (MMEngine checkpoint,
            state dict, open_clip checkpoint).
        map_location: as :func:`torch.load`.

    Raises:
        FileNotFoundError: naming ``path``.
        UnsafeCheckpointError: the file pickles a type outside
            :func:`mmengine_safe_globals`; names the file and the type.
        UnreadableCheckpointError: corrupt or truncated; names the file.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    _last_read[:] = [path]
    if trusted(path):
        print_log(
            f'{path}: loading with weights_only=False (listed in '
            f'{TRUST_ENV}): the file can run code',
            logger='current',
            level=30)
        try:
            return torch.load(
                path, map_location=map_location, weights_only=False)
        except Exception as error:  # noqa: BLE001  (re-raised, named)
            raise UnreadableCheckpointError(unreadable_message(
                path, error)) from error
    try:
        with torch.serialization.safe_globals(mmengine_safe_globals()):
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001  (re-raised, named)
        type_name = _unsafe_type(str(error))
        if type_name is not None:
            raise UnsafeCheckpointError(unsafe_message(path,
                                                       type_name)) from None
        raise UnreadableCheckpointError(unreadable_message(path,
                                                           error)) from error


def is_torchscript_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (OpenAI's CLIP ``.pt``):
    a zip with a ``code/`` folder. Those load with ``torch.jit.load``, which
    runs TorchScript, not pickled Python."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(
            name.split('/')[1:2] == ['code'] for name in archive.namelist())
