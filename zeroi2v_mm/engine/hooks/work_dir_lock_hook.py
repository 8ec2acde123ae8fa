"""WorkDirLockHook: the work-dir lock and checkpoint ownership in the
runner, whatever launched it (``mim train``, ``tools/train.py``,
``dist_train.sh``, another project's config)."""
import atexit
import os
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmaction.registry import HOOKS

from ...utils.lock import WorkDirLock


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Keep two trainings out of one work dir, and keep a resumed run from
    deleting files of the run it resumed from.

    * ``before_train`` (rank 0): takes :class:`~zeroi2v_mm.utils.lock.
      WorkDirLock` on ``runner.work_dir``; a second live run into the same
      work dir stops with both runs' facts before it writes a checkpoint.
      The lock is released after the run (and when the process exits); a
      run that was killed leaves a stale lock the next run replaces.
    * Resuming restores MMEngine's message hub, including the path of the
      previous best checkpoint, which ``CheckpointHook`` deletes when a
      better one is saved, wherever it lies. A path outside this run's work
      dir (and ``out_dir``) is dropped from the hub before
      ``CheckpointHook`` reads it: the other run's file stays; this run
      keeps its own best (the best score so far is kept, so this run saves
      a best checkpoint when it beats it).

    Registered by ``configs/_base_/default_runtime.py`` as
    ``default_hooks.work_dir_lock``; a config of another project adds
    ``dict(type='WorkDirLockHook')`` to its ``custom_hooks``.
    """

    priority = 'VERY_HIGH'  # before CheckpointHook reads the message hub

    def __init__(self) -> None:
        self._lock: Optional[WorkDirLock] = None

    def before_train(self, runner) -> None:
        if is_main_process():
            self._lock = WorkDirLock(runner.work_dir, reentrant=True).acquire()
            atexit.register(self._release)
        self._disown_foreign_best(runner)

    def _owned_folders(self, runner):
        folders = [runner.work_dir]
        checkpoint = runner.cfg.get('default_hooks', {}).get('checkpoint')
        out_dir = (checkpoint or {}).get('out_dir')
        if out_dir:
            folders.append(out_dir)
        return folders

    def _disown_foreign_best(self, runner) -> None:
        info = runner.message_hub.runtime_info
        owned = self._owned_folders(runner)
        for key in [k for k in info if k.startswith('best_ckpt')]:
            path = info[key]
            if not isinstance(path, str) or '://' in path or any(
                    _inside(path, folder) for folder in owned):
                continue
            info.pop(key)
            runner.logger.warning(
                f'resumed from a run whose best checkpoint {path} lies '
                f'outside this work dir ({runner.work_dir}): it is left as '
                'it is (MMEngine would delete it when this run finds a '
                'better one); this run saves its own best checkpoint here')

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def after_run(self, runner) -> None:
        self._release()
