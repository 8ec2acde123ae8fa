from .io import atomic_save_checkpoint, atomic_write_json

__all__ = ['atomic_save_checkpoint', 'atomic_write_json']
