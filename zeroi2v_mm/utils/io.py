"""Atomic file writes: a reader (or a crash) never sees half a file.

Each writer writes a temporary file in the destination folder, flushes it to
disk and renames it over the destination with :func:`os.replace`, which is
atomic on POSIX and Windows when both paths are on the same file system (hence
the temporary file in the *same* folder). On any error the temporary file is
removed and the destination is left exactly as it was.
"""
import json
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch


@contextmanager
def _atomic_path(path: str, suffix: str = '.tmp') -> Iterator[str]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the
    block finishes without an exception, delete it otherwise."""
    path = osp.abspath(osp.expanduser(str(path)))
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    # Hidden, unique and in the same folder: os.replace must not cross file
    # systems, and a concurrent writer must not clobber our temporary file.
    handle, tmp_path = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix=suffix, dir=folder)
    os.close(handle)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def _fsync(path: str) -> None:
    """Flush ``path`` to disk so that the rename never exposes an empty file
    after a power loss."""
    with open(path, 'rb') as file:
        os.fsync(file.fileno())


def atomic_write(path: str, write: Callable[[str], None]) -> str:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically.

    Returns:
        str: the absolute destination path.
    """
    with _atomic_path(path) as tmp_path:
        write(tmp_path)
        _fsync(tmp_path)
    return osp.abspath(osp.expanduser(str(path)))


def atomic_save_checkpoint(obj: Any, path: str) -> str:
    """``torch.save(obj, path)``, atomically. Returns the absolute path."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_json(obj: Any, path: str, indent: int = 2) -> str:
    """Write ``obj`` as JSON to ``path``, atomically. Returns the absolute
    path. Raises ``TypeError`` (and writes nothing) for objects that JSON
    cannot represent."""
    # Serialise first: a TypeError must not leave even a temporary file.
    text = json.dumps(obj, indent=indent, sort_keys=False) + '\n'

    def write(tmp_path: str) -> None:
        with open(tmp_path, 'w', encoding='utf-8') as file:
            file.write(text)

    return atomic_write(path, write)
