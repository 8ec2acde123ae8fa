"""A config and a checkpoint to a ready model: the one loading path of the
package's tools (test, merge, export, benchmark, checkpoint size) and of
:func:`init_model`.

Every checkpoint the package writes loads here as in MMAction2's own
``init_recognizer`` / inferencer / runner: the checkpoint's tensors go
through the backbones' ``_load_from_state_dict``, which completes a small
checkpoint from the image model it records and refuses anything that does not
fit. On top of MMAction2's loader this path is strict (a missing or extra
tensor is an error, never a random weight), reads files with the package's
safe loader, and takes a merged checkpoint with the training config (the
model is built as :func:`zeroi2v_mm.reparam.merged_config` says).
"""
import copy
from pathlib import Path
from typing import Any, Dict, Optional, Union

import mmengine
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

from ..models.peft import is_mergeable
from ..models.utils.weights import ADAPTER_MARKERS
from ..reparam.merged_output import merged_config
from ..utils.checkpoint import CheckpointMismatchError, load_checkpoint_file
from ..utils.small_checkpoint import sync_frozen_records


def read_checkpoint(path: str) -> Dict[str, Any]:
    """Read an MMEngine checkpoint (or a bare state dict) safely
    (:func:`zeroi2v_mm.utils.checkpoint.load_checkpoint_file`).

    Returns:
        ``{'state_dict': ..., 'meta': ..., ...}``; a bare state dict comes
        back wrapped as ``{'state_dict': it}``. The frozen-weight records of
        ``meta`` are in the state dict's metadata, where the backbones read
        them (:func:`~zeroi2v_mm.utils.small_checkpoint.sync_frozen_records`).

    Raises:
        FileNotFoundError, zeroi2v_mm.utils.checkpoint.CheckpointError: naming
            the file.
    """
    loaded = load_checkpoint_file(path, map_location='cpu')
    if not isinstance(loaded, dict):
        raise CheckpointMismatchError(
            f'{path}: not a checkpoint (found {type(loaded).__name__}, '
            'expected a dict with a state_dict)')
    if not isinstance(loaded.get('state_dict'), dict):
        if not all(isinstance(v, torch.Tensor) for v in loaded.values()):
            raise CheckpointMismatchError(
                f'{path}: neither an MMEngine checkpoint (no state_dict) nor '
                f'a state dict (keys like {sorted(loaded)[:4]})')
        loaded = dict(state_dict=loaded)
    sync_frozen_records(loaded)
    return loaded


def is_merged_checkpoint(checkpoint: Dict[str, Any],
                         model_cfg: Union[dict, mmengine.ConfigDict]) -> bool:
    """Whether ``checkpoint`` is the merged form of a model of
    ``model_cfg`` (a mergeable config: adapters, LoRA or temporal-head
    updates; the checkpoint holds none of their tensors)."""
    backbone = model_cfg.get('backbone') or {}
    if not is_mergeable(backbone):
        return False
    return not any(marker in key for key in checkpoint['state_dict']
                   for marker in ADAPTER_MARKERS)


def load_weights(model: nn.Module, checkpoint: Dict[str, Any],
                 source: str) -> None:
    """Load ``checkpoint`` (from :func:`read_checkpoint`) into ``model``,
    strictly: through the backbones' own checks, then every tensor of the
    model must come from the file and every tensor of the file must be used.

    Raises:
        zeroi2v_mm.utils.checkpoint.CheckpointMismatchError: naming
            ``source`` and the keys.
    """
    state = checkpoint['state_dict']
    metadata = getattr(state, '_metadata', None)
    if state and all(key.startswith('module.') for key in state):
        state = type(state)(
            (key[len('module.'):], value) for key, value in state.items())
        if metadata is not None:  # its keys: 'module', 'module.backbone'
            state._metadata = type(metadata)(
                (key[len('module.'):] if key.
                 startswith('module.') else '' if key == 'module' else key,
                 value) for key, value in metadata.items())
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointMismatchError(
            f'{source} does not fit the model: {error}') from None


def init_model(config: Union[str, Path, mmengine.Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cuda:0',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the recognizer of ``config`` with the weights of
    ``checkpoint``, ready for ``mmaction.apis.inference_recognizer``.

    The arguments are those of ``mmaction.apis.init_recognizer`` (plus
    ``cfg_options``); unlike it, the load is strict and every file the
    package writes loads: full and small training checkpoints (the frozen
    weights come back from the image model they record, fingerprint-checked),
    merged checkpoints given with the training config, converted released
    checkpoints.

    Args:
        config: a config file, ``Path`` or ``Config``.
        checkpoint: the weights; None builds the config's initialisation
            (``init_weights``: its ``pretrained`` image model, if any).
        device: where the model goes.
        cfg_options: overrides, as ``--cfg-options`` gives them.

    Returns:
        The model in eval mode, with ``model.cfg`` set to the config it was
        built from (the merged config for a merged checkpoint).
    """
    from mmaction.registry import MODELS
    if isinstance(config, (str, Path)):
        cfg = mmengine.Config.fromfile(str(config))
    elif isinstance(config, mmengine.Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError('config must be a filename or Config object, '
                        f'but got {type(config)}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    loaded = read_checkpoint(str(checkpoint)) if checkpoint else None
    if loaded is not None and is_merged_checkpoint(loaded, cfg.model):
        cfg = merged_config(cfg)
    model = MODELS.build(cfg.model)
    if loaded is None:
        model.init_weights()
    else:
        load_weights(model, loaded, str(checkpoint))
    model.cfg = cfg
    return model.to(device).eval()
