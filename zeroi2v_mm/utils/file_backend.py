"""An opt-in MMEngine file backend whose writes are atomic.

MMEngine's ``LocalBackend`` writes checkpoints in place: a run killed while
saving leaves half a file under the checkpoint's name. ``AtomicLocalBackend``
writes through :func:`zeroi2v_mm.utils.io.atomic_write` instead (same mode as
a plain write, symlinks kept, special files written in place).

It is registered under its own name, ``'zeroi2v_atomic'``, and used only where
asked for, so MMEngine's ``LocalBackend`` stays what it is for every other
project::

    default_hooks = dict(checkpoint=dict(
        backend_args=dict(backend='zeroi2v_atomic')))

``tools/train.py`` sets this for its runs when the config does not choose a
backend.
"""
import os.path as osp
from pathlib import Path
from typing import Union

from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend

from .io import atomic_write, remove_stale_temporaries

BACKEND_NAME = 'zeroi2v_atomic'


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` with atomic ``put`` and ``put_text``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cleaned = set()

    def _clean_once(self, filepath: str) -> None:
        folder = osp.dirname(osp.abspath(filepath))
        if folder not in self._cleaned:
            remove_stale_temporaries(folder)
            self._cleaned.add(folder)

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        filepath = str(filepath)
        self._clean_once(filepath)

        def write(tmp_path):
            with open(tmp_path, 'wb') as file:
                file.write(obj)

        atomic_write(filepath, write)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        filepath = str(filepath)
        self._clean_once(filepath)

        def write(tmp_path):
            with open(tmp_path, 'w', encoding=encoding) as file:
                file.write(obj)

        atomic_write(filepath, write)


register_backend(BACKEND_NAME, AtomicLocalBackend)
