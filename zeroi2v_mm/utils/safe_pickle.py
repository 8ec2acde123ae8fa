"""Read pickled data files (AVA proposals) without running code from them.

MMAction2's ``AVADataset`` reads its ``proposal_file`` with a plain
``pickle.load``: a crafted ``ava_dense_proposals_*.pkl`` runs any code it
likes when training or testing starts. :func:`load_pickled_data` unpickles
with :class:`RestrictedUnpickler`, which builds only what such files hold:
the built-in containers and scalars (which pickle builds without looking up
any global), ``set`` / ``frozenset`` / ``OrderedDict``, and NumPy arrays,
dtypes and scalars. Any other global (``os.system``, ``builtins.eval``, a
class with a ``__reduce__``) is refused before it is looked up, naming the
file and the global.

Opt-in for a file you trust, as for checkpoints: list it (or its folder) in
``ZEROI2V_TRUSTED_CHECKPOINTS``; it is then read with plain ``pickle.load``
and a warning. See :mod:`zeroi2v_mm.utils.checkpoint`.
"""
import pickle
from typing import Any

from mmengine.logging import print_log

from .checkpoint import TRUST_ENV, trusted


class UnsafePickleError(ValueError):
    """A pickled data file names a global outside the allowed set."""


# (module, name) the unpickler may look up. NumPy moved its internals from
# numpy.core to numpy._core in 2.0; files written by either load.
_NUMPY_NAMES = ('_reconstruct', 'scalar', '_frombuffer', 'ndarray', 'dtype')
ALLOWED_GLOBALS = frozenset([
    ('builtins', 'set'),
    ('builtins', 'frozenset'),
    ('builtins', 'bytes'),
    ('builtins', 'bytearray'),
    ('collections', 'OrderedDict'),
    # protocol 2 writes bytes (an array's buffer) as _codecs.encode(str,
    # 'latin1'): a pure function of its arguments
    ('_codecs', 'encode'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
] + [(module, name)
     for module in ('numpy.core.multiarray', 'numpy._core.multiarray',
                    'numpy.core.numeric', 'numpy._core.numeric')
     for name in _NUMPY_NAMES])
# numpy.dtype pickles its scalar types as e.g. numpy.dtypes.Float32DType in
# NumPy >= 1.25 (classes without side effects).
_NUMPY_DTYPE_MODULE = 'numpy.dtypes'


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` admitting containers and NumPy arrays only."""

    def __init__(self, file, path: str):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        # protocol 2 files name Python 2's modules; pickle maps them back
        module = {'__builtin__': 'builtins'}.get(module, module)
        if (module, name) in ALLOWED_GLOBALS or (module == _NUMPY_DTYPE_MODULE
                                                 and name.endswith('DType')):
            return super().find_class(module, name)
        raise UnsafePickleError(
            f'{self.path}: refused to load: the file pickles {module}.{name}, '
            'which is not a container or NumPy array (what proposal files '
            'hold); a crafted file runs code this way. If you made this file '
            f'yourself and trust it, allow it explicitly: {TRUST_ENV}='
            f'{self.path}')


def load_pickled_data(path: str) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (plain
    ``pickle.load`` for a file the user trusts, see the module docstring).

    Raises:
        FileNotFoundError: naming the file.
        UnsafePickleError: the file pickles a global outside the allowed set.
        ValueError: the file is not a readable pickle (names the file).
    """
    path = str(path)
    try:
        file = open(path, 'rb')
    except FileNotFoundError:
        raise FileNotFoundError(f'pickled data file not found: {path}') \
            from None
    with file:
        if trusted(path):
            print_log(
                f'{path}: loaded with plain pickle (trusted by {TRUST_ENV}): '
                'the file can run code',
                logger='current',
                level=30)
            return pickle.load(file)
        try:
            return RestrictedUnpickler(file, path).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
                AttributeError, ImportError, IndexError) as error:
            raise ValueError(f'{path}: not a readable pickle file '
                             f'({type(error).__name__}: {error})') from None
