"""Entry points for using trained models: :func:`init_model` next to
MMAction2's ``init_recognizer`` (same arguments), and the checkpoint reading
every tool of the package goes through.

Importing this module is using the package's models: MMEngine's checkpoint
loader becomes the package's safe one for the process
(:func:`zeroi2v_mm.compat.use_safe_checkpoint_loader`), so MMAction2's
inferencer reads MMEngine checkpoints afterwards too.
"""
from ..compat import use_safe_checkpoint_loader
from .model_loading import (init_model, is_merged_checkpoint, load_weights,
                            read_checkpoint)

use_safe_checkpoint_loader()

__all__ = [
    'init_model', 'is_merged_checkpoint', 'load_weights', 'read_checkpoint'
]
