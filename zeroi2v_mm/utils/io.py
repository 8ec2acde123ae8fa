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
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

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


# ------------------------------------------------------------ output checks
class OutputPathError(ValueError):
    """An output path a tool must not write: one of the run's inputs, an
    existing file without ``--force``, a directory, an unwritable place."""


# Config keys whose string values name files a run reads (data lists,
# weights, proposals): an output must never be one of them.
INPUT_KEYS = ('ann_file', 'pretrained', 'proposal_file', 'load_from',
              'label_file', 'exclude_file', 'checkpoint', 'pretrained_file')


def same_file(a: str, b: str) -> bool:
    """Whether writing ``a`` would change the file ``b``: symlinks, hard
    links, ``..`` and symlinked folders resolved (``os.path.samefile`` when
    both exist, else the resolved paths compared)."""
    a, b = osp.expanduser(str(a)), osp.expanduser(str(b))
    if osp.exists(a) and osp.exists(b):
        return osp.samefile(a, b)
    return osp.realpath(a) == osp.realpath(b)


def config_input_files(cfg: Any) -> List[Tuple[str, str]]:
    """``(key, path)`` of every file a config reads by name: its own file
    and the string values of :data:`INPUT_KEYS` anywhere in it (model,
    datasets of every split, ``load_from``)."""
    found: List[Tuple[str, str]] = []
    filename = getattr(cfg, 'filename', None)
    if filename:
        found.append(('the config', str(filename)))

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = f'{prefix}.{key}' if prefix else str(key)
                if key in INPUT_KEYS and isinstance(value, str) and value:
                    found.append((name, value))
                else:
                    walk(value, name)
        elif isinstance(node, (list, tuple)):
            for index, value in enumerate(node):
                walk(value, f'{prefix}.{index}')

    walk(cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg, '')
    return found


def _named(inputs) -> List[Tuple[str, str]]:
    named = []
    for item in inputs or ():
        if item is None:
            continue
        if isinstance(item, (tuple, list)):
            if item[1]:
                named.append((str(item[0]), str(item[1])))
        else:
            named.append(('the input', str(item)))
    return named


def _check_parent(option: str, path: str) -> None:
    """The nearest existing folder above ``path`` must be a writable
    folder (a file in the way, a read-only file system: said now, before
    any work is done)."""
    parent = osp.dirname(resolve_destination(path))
    while parent and not osp.exists(parent):
        parent = osp.dirname(parent)
    if not osp.isdir(parent):
        raise OutputPathError(f'{option} {path}: {parent} is a file, not a '
                              'folder; choose another location')
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(
            f'{option} {path}: cannot write into {parent} (read-only file '
            'system or no permission); choose a writable location')


def check_output(path: str,
                 inputs=(),
                 force: bool = False,
                 option: str = '--out') -> str:
    """Refuse an output ``path`` before any work is done.

    * never one of ``inputs`` (config, checkpoint, pretrained file, data
      lists), compared with :func:`same_file` through links; ``force`` does
      not change this;
    * never a directory (named as such);
    * an existing file only with ``force`` (pass ``force=True`` for reports
      a tool regenerates on every run);
    * the folder it goes into must be writable.

    Args:
        path: The output path as the user gave it.
        inputs: Paths, or ``(what, path)`` pairs, the run reads.
        force: Whether an unrelated existing file may be replaced.
        option: The option or argument name used in messages.

    Returns:
        str: the absolute path.

    Raises:
        OutputPathError: with the path, the conflict and the fix.
    """
    if not path or not str(path).strip():
        raise OutputPathError(f'{option}: empty path; give a file name')
    path = str(path)
    for what, source in _named(inputs):
        if same_file(path, source):
            raise OutputPathError(
                f'{option} {path} is {what} ({source}) that this run reads '
                '(same file on disk); choose another file (--force never '
                'overwrites an input)')
    if osp.isdir(path):
        raise OutputPathError(f'{option} {path} is a directory; give a file '
                              f'name (e.g. {osp.join(path, "NAME")})')
    if osp.lexists(path) and not force:
        raise OutputPathError(f'{option} {path} exists; pass --force to '
                              'replace it (an input is never replaced)')
    _check_parent(option, path)
    return osp.abspath(osp.expanduser(path))


def check_output_dir(path: str, inputs=(), option: str = '--out') -> str:
    """Refuse an output folder that is a file, or that holds (or is) one of
    ``inputs``; its parent must be writable. Returns the absolute path."""
    if not path or not str(path).strip():
        raise OutputPathError(f'{option}: empty path; give a folder')
    path = str(path)
    if osp.lexists(path) and not osp.isdir(path):
        raise OutputPathError(f'{option} {path} is a file, not a folder; '
                              'give a folder (it is created if missing)')
    root = osp.realpath(path)
    for what, source in _named(inputs):
        real = osp.realpath(source)
        if real == root or real.startswith(root + os.sep):
            raise OutputPathError(
                f'{option} {path} holds {what} ({source}) that this run '
                'reads; choose another folder')
    if osp.isdir(path):
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputPathError(
                f'{option} {path}: cannot write into it (read-only file '
                'system or no permission); choose a writable folder')
    else:
        _check_parent(option, path)
    return osp.abspath(osp.expanduser(path))


def atomic_write_text(text: str, path: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""

    def write(tmp_path: str) -> None:
        with open(tmp_path, 'w', encoding='utf-8') as file:
            file.write(text)

    return atomic_write(path, write)


def run_inputs(config: Optional[str] = None,
               checkpoint: Optional[str] = None,
               cfg_options: Optional[dict] = None,
               extra=()) -> List[Tuple[str, str]]:
    """``(what, path)`` of the files a tool run reads: the config and what
    it names (:func:`config_input_files`), the checkpoint, ``extra``. A
    config that does not load contributes its own path only (the tool
    reports why it does not load)."""
    inputs = _named(extra)
    if checkpoint:
        inputs.append(('the input checkpoint', str(checkpoint)))
    if config:
        inputs.append(('the config', str(config)))
        try:
            from mmengine.config import Config
            cfg = Config.fromfile(config)
            if cfg_options:
                cfg.merge_from_dict(cfg_options)
            inputs.extend(config_input_files(cfg))
        except Exception:  # reported by the tool when it loads the config
            pass
    return inputs
