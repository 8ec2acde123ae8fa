"""Command-line conventions of this package's tools: a known mistake prints
one message, not a traceback.

A *known* error is one this package raises on purpose, with a message that
names the file, key or value and the fix: an exception class of
``zeroi2v_mm``, or a ``ValueError`` / ``OSError`` / ``RuntimeError`` raised
by a ``raise`` statement in ``zeroi2v_mm``'s own code (config, data and fit
checks), also when MMEngine's registry re-raises it with the class name in
front. :func:`run_tool` prints ``error: MESSAGE`` for those and exits 1;
every other exception (a bug, here or in a library) keeps its traceback.
The traceback of a known error too: ``ZEROI2V_DEBUG=1`` or ``--debug``.

Under ``mim train`` / ``mim test``, which run MMAction2's own
``tools/train.py`` / ``tools/test.py``, :func:`install_excepthook` does the
same for an exception that is about to end the process anyway (the last
thing Python does is print it); it is installed only in such a process and
only when no other excepthook is set, and chains to Python's for
everything else, so no other code sees a difference.
"""
import argparse
import linecache
import os
import os.path as osp
import sys
from typing import Any, Callable, Optional

DEBUG_ENV = 'ZEROI2V_DEBUG'
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Raised by our checks on purpose. TypeError, KeyError, IndexError,
# AttributeError, AssertionError and UnicodeError are left out: raised from
# our code they are bugs (or a library's raw error), and keep the traceback.
KNOWN_TYPES = (ValueError, OSError, RuntimeError)
BUG_TYPES = (UnicodeError, NotImplementedError, RecursionError)


def _raised_in_package(error: BaseException) -> bool:
    """Whether the innermost frame of ``error``'s traceback is in this
    package (the ``raise`` statement is ours)."""
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = osp.abspath(tb.tb_frame.f_code.co_filename)
    if not filename.startswith(PACKAGE_DIR + os.sep):
        return False
    # A `raise` statement of ours, not a builtin failing inside our code
    # (int('abc') raises a ValueError from our frame, without context).
    line = linecache.getline(filename, tb.tb_lineno).strip()
    return line.startswith('raise')


def known_error(error: BaseException) -> Optional[BaseException]:
    """The exception (``error`` or one it was raised from) that this
    package raised on purpose, or None for anything else."""
    seen = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__ or ''
        if module.split('.')[0] == 'zeroi2v_mm':
            return current
        if isinstance(current, KNOWN_TYPES) and not isinstance(
                current, BUG_TYPES) and _raised_in_package(current):
            return current
        current = current.__cause__ or current.__context__
    return None


def _debug_requested() -> bool:
    if '--debug' in sys.argv[1:]:
        sys.argv.remove('--debug')
        return True
    return os.environ.get(DEBUG_ENV, '') not in ('', '0')


def _print_known(error: BaseException) -> None:
    message = str(error)
    if isinstance(error, OSError) and error.filename and \
            str(error.filename) not in message:
        message = f'{error.filename}: {message}'
    print(f'error: {message}', file=sys.stderr)
    print(
        f'(a known problem, no traceback; set {DEBUG_ENV}=1 or pass '
        '--debug to see it)',
        file=sys.stderr)


def run_tool(main: Callable[[], Any]) -> None:
    """Run a tool's ``main()`` and exit: with its int result (0 for any
    other result), with 1 and one message for a known error, with the
    traceback for anything else (or for everything with ``--debug`` /
    ``ZEROI2V_DEBUG=1``)."""
    debug = _debug_requested()
    try:
        result = main()
    except Exception as error:
        known = None if debug else known_error(error)
        if known is None:
            raise
        _print_known(known)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


# ------------------------------------------------------------- mim train/test
def _mmaction_tool_process() -> bool:
    """Whether this process runs MMAction2's own tools/train.py or
    tools/test.py (what ``mim train/test mmaction`` launch)."""
    script = osp.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ''
    parts = script.split(os.sep)
    return (osp.basename(script) in ('train.py', 'test.py') and len(parts) >= 3
            and parts[-2] == 'tools'
            and 'mmaction' in parts[-4:-2] + [parts[-3].lstrip('.')])


def _excepthook(kind, error, tb) -> None:
    known = known_error(error) if isinstance(error, Exception) else None
    if known is None or os.environ.get(DEBUG_ENV, '') not in ('', '0'):
        sys.__excepthook__(kind, error, tb)
        return
    _print_known(known)


def install_excepthook() -> bool:
    """In a ``mim train/test mmaction`` process (and only there, and only
    when nobody set an excepthook), print a known error that ends the
    process as one message. Returns whether it was installed."""
    if sys.excepthook is not sys.__excepthook__ or \
            not _mmaction_tool_process():
        return False
    sys.excepthook = _excepthook
    return True


# ------------------------------------------------------------ argument types
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer') \
            from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value}: must be >= 1')
    return value


def check_device(name: Optional[str]) -> str:
    """``name`` (None: cuda when available, else cpu) as a device torch has
    here; a ValueError naming it and the choices otherwise."""
    import torch
    if name is None:
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f'--device {name}: not a device torch knows; use '
                         'cpu or cuda (cuda:N for one GPU)') from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'--device {name}: no CUDA device here; use --device '
                         'cpu')
    if device.type not in ('cpu', 'cuda'):
        raise ValueError(f'--device {name}: this tool runs on cpu or cuda')
    return name


def merge_cfg_options(cfg, options: Optional[dict]) -> None:
    """``cfg.merge_from_dict(options)`` with a message naming the option
    when a key does not fit the config (MMEngine raises a bare
    ``AttributeError`` / ``TypeError`` / ``KeyError``, e.g. for
    ``model.backbone.stdha.offsets.1=1`` when the value is a tuple)."""
    if not options:
        return
    for key, value in options.items():
        try:
            cfg.merge_from_dict({key: value})
        except (AttributeError, TypeError, KeyError, IndexError) as error:
            parent_key = key.rsplit('.', 1)[0]
            parent = cfg
            try:
                for part in parent_key.split('.'):
                    parent = (
                        parent[int(part)]
                        if isinstance(parent, (list, tuple)) else parent[part])
                found = f'{parent_key} is {parent!r}'
            except (KeyError, IndexError, ValueError, TypeError):
                found = f'{parent_key} is not in the config'
            raise ValueError(
                f'--cfg-options {key}={value!r}: cannot set it ({found}; '
                f'{type(error).__name__}: {error}). Set the whole value '
                f'instead, e.g. {parent_key}="..." with every element') \
                from None


def check_config_path(path: str) -> None:
    """Exit with one message when the config file is missing or a folder
    (MMEngine raises a bare ``FileNotFoundError`` from its own code)."""
    if not osp.isfile(path):
        what = 'is a directory' if osp.isdir(path) else 'not found'
        raise SystemExit(f'error: config {path} {what}; give a config file '
                         '(e.g. configs/demo/zeroi2v_synthetic.py)')


def check_checkpoint_path(path: str) -> None:
    """Exit with one message when ``path`` is not a checkpoint file (missing,
    or a folder such as a work dir)."""
    if osp.isdir(path):
        raise SystemExit(
            f'error: checkpoint {path} is a directory; give the checkpoint '
            'file in it (e.g. epoch_N.pth, best_*.pth or the name in its '
            'last_checkpoint)')
    if not osp.isfile(path):
        raise SystemExit(f'error: checkpoint not found: {path}')
