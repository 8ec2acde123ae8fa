"""Atomic file writes: a reader (or a crash) never sees half a file.

Each writer writes a temporary file next to the destination, flushes it to
disk and renames it over the destination with :func:`os.replace`, which is
atomic on POSIX and Windows when both paths are on the same file system (hence
the temporary file in the *same* folder). On any error the temporary file is
removed and the destination is left exactly as it was.

What a plain ``open(path, 'wb')`` would do is kept:

* the new file gets the mode a plain write would give it: the old file's mode
  when one is replaced, ``0o666 & ~umask`` for a new one (``mkstemp`` alone
  would make every file owner-only, 0600);
* a symlinked destination keeps its link: the file it points to is replaced;
* a destination that exists but is not a regular file (a FIFO, a device such
  as ``/dev/null``) is written in place, never replaced by a regular file.

Temporary files are named ``.NAME.PID.RANDOM.tmp``; a run killed while writing
leaves one behind, and :func:`remove_stale_temporaries` (called at the start
of every training run of ``tools/train.py`` and on the first write of
:class:`AtomicLocalBackend` into a folder) deletes those whose process is gone.
Other programs' files are never touched.
"""
import errno
import json
import os
import os.path as osp
import re
import stat
import tempfile
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterator, List, Sequence, Tuple

import torch

TMP_SUFFIX = '.tmp'
# .NAME.PID.RANDOM.tmp, RANDOM from tempfile (8 characters of [a-z0-9_]).
_TMP_PATTERN = re.compile(r'^\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}\.tmp$')


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # the only portable way: set it and put it back
    os.umask(mask)
    return mask


def resolve_destination(path: str) -> str:
    """The file a plain write to ``path`` would change: symlinks followed."""
    path = osp.abspath(osp.expanduser(str(path)))
    return osp.realpath(path) if osp.islink(path) else path


def _is_special(path: str) -> bool:
    """Whether ``path`` exists and is not a regular file (FIFO, device)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _plain_mode(path: str) -> int:
    """The mode ``open(path, 'w')`` would leave ``path`` with."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_stale_temporaries(folder: str) -> List[str]:
    """Delete this package's temporary files in ``folder`` whose writing
    process no longer exists (a run killed while saving). Returns them."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TMP_PATTERN.match(name)
        if not match or _pid_alive(int(match.group('pid'))):
            continue
        path = osp.join(folder, name)
        try:
            os.remove(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def _no_space_message(path: str) -> str:
    return (f'no space left on device while writing {path}; nothing was '
            'written (the previous file, if any, is unchanged)')


@contextmanager
def _staged(path: str) -> Iterator[str]:
    """Yield a temporary path next to (the target of) ``path``; delete it if
    the block fails. The caller renames it."""
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    # Hidden, unique, in the same folder: os.replace must not cross file
    # systems, and a concurrent writer must not clobber our temporary file.
    handle, tmp_path = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.{os.getpid()}.',
        suffix=TMP_SUFFIX,
        dir=folder)
    os.close(handle)
    try:
        yield tmp_path
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def _fsync(path: str) -> None:
    """Flush ``path`` to disk so that the rename never exposes an empty file
    after a power loss."""
    with open(path, 'rb') as file:
        os.fsync(file.fileno())


def _write_staged(path: str, write: Callable[[str], None],
                  stack: ExitStack) -> str:
    tmp_path = stack.enter_context(_staged(path))
    try:
        write(tmp_path)
        _fsync(tmp_path)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC, _no_space_message(path)) from error
        raise
    os.chmod(tmp_path, _plain_mode(path))
    return tmp_path


def atomic_write(path: str, write: Callable[[str], None]) -> str:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically.

    A destination that is a FIFO or device is written in place instead.

    Returns:
        str: the absolute destination path (as given, links not followed).
    """
    shown = osp.abspath(osp.expanduser(str(path)))
    target = resolve_destination(shown)
    if _is_special(target):
        write(target)
        return shown
    with ExitStack() as stack:
        tmp_path = _write_staged(target, write, stack)
        os.replace(tmp_path, target)
    return shown


def atomic_write_all(items: Sequence[Tuple[str, Callable[[str],
                                                         None]]]) -> List[str]:
    """Write several files, all or none of them.

    Every file is first written to its temporary file (a full disk fails
    here, with nothing replaced); then all are renamed into place. Should a
    rename fail, the destinations already replaced get their previous files
    back.

    Args:
        items: ``(path, write)`` pairs as for :func:`atomic_write`; regular
            files only.
    """
    targets = [resolve_destination(path) for path, _ in items]
    if len(set(targets)) != len(targets):
        raise ValueError(f'atomic_write_all: the same file twice in '
                         f'{[path for path, _ in items]}')
    with ExitStack() as stack:
        staged = [
            _write_staged(target, write, stack)
            for target, (_, write) in zip(targets, items)
        ]
        done: List[Tuple[str, str]] = []  # (target, backup or '')
        backups: List[str] = []
        try:
            for tmp_path, target in zip(staged, targets):
                backup = ''
                if osp.exists(target):
                    # A hard link to the old file: costs no space, and
                    # brings it back should a later rename fail.
                    backup = tmp_path + '.old'
                    os.link(target, backup)
                    backups.append(backup)
                os.replace(tmp_path, target)
                done.append((target, backup))
        except BaseException:
            for target, backup in reversed(done):
                if backup:
                    os.replace(backup, target)
                else:
                    os.remove(target)
            raise
        finally:
            for backup in backups:
                if osp.exists(backup):
                    os.remove(backup)
    return [osp.abspath(osp.expanduser(str(path))) for path, _ in items]


def atomic_save_checkpoint(obj: Any, path: str) -> str:
    """``torch.save(obj, path)``, atomically. Returns the absolute path."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def json_writer(obj: Any, indent: int = 2) -> Callable[[str], None]:
    """A ``write(path)`` for :func:`atomic_write` that writes ``obj`` as JSON.
    Serialises at once: a ``TypeError`` comes before any file exists."""
    text = json.dumps(obj, indent=indent, sort_keys=False) + '\n'

    def write(tmp_path: str) -> None:
        with open(tmp_path, 'w', encoding='utf-8') as file:
            file.write(text)

    return write


def atomic_write_json(obj: Any, path: str, indent: int = 2) -> str:
    """Write ``obj`` as JSON to ``path``, atomically. Returns the absolute
    path. Raises ``TypeError`` (and writes nothing) for objects that JSON
    cannot represent."""
    return atomic_write(path, json_writer(obj, indent))
