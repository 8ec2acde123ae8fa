"""A lock file that keeps two runs out of one work dir.

Two trainings writing ``epoch_N.pth``, ``last_checkpoint`` and the logs of the
same work dir overwrite each other's results without a word. The first run
creates ``WORK_DIR/.zeroi2v_run.lock`` (created exclusively, so there is no
race) holding its pid, host and start time; a second run is refused with both
runs' facts. A lock whose process is gone (same host, pid no longer alive:
a run that was killed) is stale: it is replaced and the run says so. A lock
from another host cannot be checked from here and is refused with the advice
to delete it once that run is over.

With ``reentrant=True`` (the runner's
:class:`~zeroi2v_mm.engine.hooks.WorkDirLockHook`, after ``tools/train.py``
took the lock) a lock this process holds already counts as taken; only the
first holder releases it.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Optional

from mmengine.logging import print_log

from .io import _pid_alive

LOCK_NAME = '.zeroi2v_run.lock'


class WorkDirLockedError(RuntimeError):
    """Another live run uses the work dir."""


def _facts() -> dict:
    return dict(
        pid=os.getpid(),
        host=socket.gethostname(),
        started=time.strftime('%Y-%m-%d %H:%M:%S'),
        command=' '.join(sys.argv))


def _describe(facts: dict) -> str:
    return (f"pid {facts.get('pid')} on host {facts.get('host')}, started "
            f"{facts.get('started')}: {facts.get('command', '')}".rstrip(': '))


class WorkDirLock:
    """``with WorkDirLock(work_dir): ...`` holds the lock for the block.

    Args:
        work_dir (str): The run's work dir (created if missing).
        reentrant (bool): Whether a lock this process holds already counts
            as taken (the runner's hook after ``tools/train.py``). Defaults
            to False: a second lock in one process is refused too.
    """

    def __init__(self, work_dir: str, reentrant: bool = False):
        self.path = osp.join(osp.abspath(work_dir), LOCK_NAME)
        self.reentrant = reentrant
        self.facts: Optional[dict] = None

    def _create(self) -> bool:
        try:
            handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                             0o644)
        except FileExistsError:
            return False
        self.facts = _facts()
        with os.fdopen(handle, 'w') as file:
            json.dump(self.facts, file)
        return True

    def _holder(self) -> Optional[dict]:
        try:
            with open(self.path) as file:
                return json.load(file)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: an interrupted write of a lock

    def acquire(self) -> 'WorkDirLock':
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        for _ in range(3):  # a stale lock removed by another run: retry
            if self._create():
                return self
            holder = self._holder()
            if holder is None:
                continue
            mine = _facts()
            same_host = holder.get('host') == mine['host']
            pid = holder.get('pid')
            if self.reentrant and same_host and pid == mine['pid']:
                # This process holds it already (tools/train.py took it, and
                # the runner's WorkDirLockHook asks again): nothing to do;
                # the first holder releases it.
                return self
            if holder and (not same_host or not isinstance(pid, int)
                           or _pid_alive(pid)):
                where = ('' if same_host else
                         ' (another host: its process cannot be checked '
                         'from here)')
                raise WorkDirLockedError(
                    f'work dir {osp.dirname(self.path)} is in use by another '
                    f'run: {_describe(holder)}{where}. This run: '
                    f'{_describe(mine)}. Choose another --work-dir, or wait '
                    f'for that run to end; if it is over, delete {self.path}')
            print_log(
                f'removing stale lock {self.path} of a run that is no '
                f'longer alive ({_describe(holder) or "unreadable"})',
                logger='current',
                level=30)
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        raise WorkDirLockedError(f'could not take the lock {self.path}')

    def release(self) -> None:
        if self.facts is None:
            return
        holder = self._holder()
        if holder and holder.get('pid') == self.facts['pid'] and holder.get(
                'host') == self.facts['host']:
            os.remove(self.path)
        self.facts = None

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
