from .checkpoint import (CheckpointError, UnreadableCheckpointError,
                         UnsafeCheckpointError, load_checkpoint_file)
from .io import atomic_save_checkpoint, atomic_write, atomic_write_json
from .lock import WorkDirLock, WorkDirLockedError

__all__ = [
    'atomic_save_checkpoint', 'atomic_write', 'atomic_write_json',
    'CheckpointError', 'UnreadableCheckpointError', 'UnsafeCheckpointError',
    'load_checkpoint_file', 'WorkDirLock', 'WorkDirLockedError'
]
