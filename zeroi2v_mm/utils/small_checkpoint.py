"""Small checkpoints: the trained parameters plus a fingerprint of the frozen
image-model weights they were trained on.

A parameter-efficient run (ZeroI2V's adapters, LoRA, ...) trains about 14M of
ViT-B's 86M parameters; the rest is the image model, unchanged from the
``pretrained`` file. A *small* checkpoint leaves those frozen tensors out and
records, in ``checkpoint['meta']['frozen_weights']``, per backbone:

* ``keys``: the frozen tensors left out (backbone-relative names);
* ``fingerprint``: sha256 over them (:func:`fingerprint`);
* ``pretrained``: the file they came from (a hint for error messages only:
  the file used when loading is the config's ``model.backbone.pretrained``).

Loading one (:func:`restore_small_checkpoint`) reads the frozen tensors back
from the config's ``pretrained`` file, checks their fingerprint and puts them
into the checkpoint's state dict, which then loads like a full checkpoint. A
file with other weights is refused naming both files; a missing file is an
error naming it. The backbone's state-dict metadata also carries the
fingerprint, so a small checkpoint loaded without restoring it (e.g. by
MMAction2's ``init_recognizer``) fails with this explanation instead of
"missing keys" (:func:`refuse_unrestored`).

Saving is done by :class:`zeroi2v_mm.engine.SmallCheckpointHook`; the tools
(``tools/merge_adapters.py``, ``tools/deployment/export_onnx.py``) and the
hook's ``after_load_checkpoint`` (``load_from``, ``--resume``, ``mim test``)
restore.
"""
import hashlib
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Tuple

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointMismatchError, last_read_checkpoint

META_KEY = 'frozen_weights'
# Written into the backbone's state-dict metadata (``_metadata[prefix]``).
METADATA_KEY = 'frozen_fingerprint'
ALGORITHM = 'sha256(name, dtype, shape, bytes) over frozen tensors by name'


class SmallCheckpointError(CheckpointMismatchError):
    """A small checkpoint that cannot be completed (pretrained file missing
    or holding other weights, or loaded without restoring)."""


def fingerprint(tensors: Dict[str, Tensor]) -> str:
    """sha256 over ``tensors`` in name order: each name, dtype, shape and raw
    bytes (CPU, contiguous), so a renamed, reshaped, recast or changed tensor
    changes it. About 1 s for ViT-B/16's 86M parameters."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to('cpu').contiguous()
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def small_checkpoint_backbones(model: nn.Module
                               ) -> List[Tuple[str, nn.Module]]:
    """``[(prefix, backbone)]`` for every :class:`ZeroI2VViT` in ``model``
    (``prefix`` as in the model's state dict, e.g. ``'backbone.'``)."""
    from ..models.backbones.zeroi2v_vit import ZeroI2VViT
    found = []
    for name, module in model.named_modules():
        if isinstance(module, ZeroI2VViT):
            found.append((f'{name}.' if name else '', module))
    return found


def frozen_names(backbone: nn.Module) -> List[str]:
    """Names (backbone-relative) of the parameters that do not train."""
    return sorted(name for name, param in backbone.named_parameters()
                  if not param.requires_grad)


def frozen_tensors_from_file(path: str, keys: Iterable[str],
                             backbone: nn.Module) -> Dict[str, Tensor]:
    """The tensors ``keys`` of the image-model file ``path``, in backbone
    names (any format :mod:`zeroi2v_mm.models.utils.weights` reads), cast to
    the
    backbone's dtypes as loading them would.

    Raises:
        SmallCheckpointError: a key absent from the file or of another shape.
    """
    from ..models.utils.weights import load_backbone_weights
    weights = load_backbone_weights(path)
    own = backbone.state_dict()
    tensors = {}
    for key in keys:
        if key not in weights:
            raise SmallCheckpointError(
                f'{path} has no tensor {key!r} (in backbone names): it is not '
                'the image model this small checkpoint was trained on')
        value = weights[key]
        if key in own:
            if tuple(value.shape) != tuple(own[key].shape):
                raise SmallCheckpointError(
                    f'{path}: {key} has shape {tuple(value.shape)}, the model '
                    f'{tuple(own[key].shape)}')
            value = value.to(own[key].dtype)
        tensors[key] = value
    return tensors


# (realpath, size, mtime_ns, keys, dtypes) -> fingerprint: the frozen weights
# of a run are read once per process, not once per resume / save check.
_FILE_FINGERPRINTS: Dict[tuple, str] = {}


def _file_cache_key(path: str, keys: List[str], backbone: nn.Module) -> tuple:
    stat = os.stat(path)
    own = backbone.state_dict()
    dtypes = tuple(str(own[k].dtype) if k in own else '' for k in keys)
    return (osp.realpath(path), stat.st_size, stat.st_mtime_ns, tuple(keys),
            dtypes)


def file_fingerprint(path: str, keys: List[str],
                     backbone: nn.Module) -> Tuple[str, Dict[str, Tensor]]:
    """``(fingerprint, tensors)`` of ``keys`` read from ``path``."""
    tensors = frozen_tensors_from_file(path, keys, backbone)
    digest = fingerprint(tensors)
    _FILE_FINGERPRINTS[_file_cache_key(path, keys, backbone)] = digest
    return digest, tensors


def cached_file_fingerprint(path: str, keys: List[str],
                            backbone: nn.Module) -> str:
    """:func:`file_fingerprint` without the tensors, read at most once per
    process for an unchanged file."""
    cache_key = _file_cache_key(path, keys, backbone)
    if cache_key not in _FILE_FINGERPRINTS:
        file_fingerprint(path, keys, backbone)
    return _FILE_FINGERPRINTS[cache_key]


def small_checkpoint_info(checkpoint: dict) -> Optional[dict]:
    """``{prefix: entry}`` when ``checkpoint`` is small, else None."""
    if not isinstance(checkpoint, dict):
        return None
    meta = checkpoint.get('meta')
    info = meta.get(META_KEY) if isinstance(meta, dict) else None
    return info or None


def make_small(checkpoint: dict, entries: Dict[str, dict]) -> int:
    """Drop the frozen tensors of each backbone ``{prefix: entry}`` from
    ``checkpoint['state_dict']`` (in place) and record the entries in its
    meta and each backbone's state-dict metadata. Returns the number of
    tensors dropped."""
    state = checkpoint['state_dict']
    metadata = getattr(state, '_metadata', None)
    dropped = 0
    for prefix, entry in entries.items():
        for key in entry['keys']:
            if state.pop(prefix + key, None) is not None:
                dropped += 1
        if metadata is not None:
            local = metadata.setdefault(prefix.rstrip('.'), {})
            local[METADATA_KEY] = dict(
                fingerprint=entry['fingerprint'],
                pretrained=entry['pretrained'])
    meta = checkpoint.setdefault('meta', {})
    meta[META_KEY] = {prefix: dict(entry) for prefix, entry in entries.items()}
    return dropped


def restore_small_checkpoint(checkpoint: dict,
                             model: nn.Module,
                             source: Optional[str] = None) -> bool:
    """Complete a small ``checkpoint`` (in place) for ``model``: the frozen
    tensors come from each backbone's ``pretrained`` file (the config's),
    checked against the recorded fingerprint. A full checkpoint is left
    as it is.

    Args:
        checkpoint: as loaded (``{'meta', 'state_dict', ...}``); state-dict
            keys may carry DDP's ``module.`` prefix.
        model: the model it will be loaded into (unwrapped), built from the
            config whose ``model.backbone.pretrained`` names the image model.
        source: the checkpoint's path, for messages.

    Returns:
        Whether the checkpoint was small (and is now complete).

    Raises:
        SmallCheckpointError: the model has no backbone where the checkpoint
            has frozen weights; its ``pretrained`` is unset or absent; the
            file's frozen weights do not match the fingerprint (naming both
            files).
    """
    info = small_checkpoint_info(checkpoint)
    if info is None:
        return False
    source = source or last_read_checkpoint() or 'the checkpoint'
    state = checkpoint['state_dict']
    wrapped = bool(state) and all(k.startswith('module.') for k in state)
    backbones = dict(small_checkpoint_backbones(model))
    for prefix, entry in info.items():
        backbone = backbones.get(prefix)
        recorded = entry.get('pretrained')
        if backbone is None:
            raise SmallCheckpointError(
                f'{source} is a small checkpoint with the frozen weights of '
                f'a ZeroI2VViT at {prefix.rstrip(".")!r} left out, but the '
                f'model has no ZeroI2VViT there (it has '
                f'{sorted(p.rstrip(".") for p in backbones)}): use the config '
                'it was trained with')
        path = backbone.pretrained
        if not path:
            raise SmallCheckpointError(
                f'{source} is a small checkpoint (trained parameters only); '
                'its frozen weights come from the image model it was trained '
                f'on ({recorded}), but the config sets '
                f'model.{prefix}pretrained=None. Set it to that file')
        if not osp.isfile(path):
            raise SmallCheckpointError(
                f'{source} is a small checkpoint (trained parameters only); '
                'its frozen weights come from the image model file '
                f'model.{prefix}pretrained={path}, which is not found '
                f'(trained with {recorded}). Put that file there, or use a '
                'full checkpoint')
        digest, tensors = file_fingerprint(path, entry['keys'], backbone)
        if digest != entry['fingerprint']:
            raise SmallCheckpointError(
                f'{source} was trained on other frozen weights than '
                f'{path} (model.{prefix}pretrained) holds: fingerprint '
                f'{entry["fingerprint"][:16]}... recorded (trained with '
                f'{recorded}), {digest[:16]}... of {path}. Refusing to '
                'combine them: point model.backbone.pretrained at the image '
                'model the checkpoint was trained on')
        lead = 'module.' if wrapped else ''
        for key, value in tensors.items():
            state[lead + prefix + key] = value
    return True


def refuse_unrestored(state_dict: Dict[str, Tensor], prefix: str,
                      backbone: nn.Module, marker: dict) -> None:
    """Called by ``ZeroI2VViT._load_from_state_dict`` when the backbone's
    state-dict metadata says it comes from a small checkpoint: refuse a load
    that misses the frozen tensors (they were not restored)."""
    missing = [
        prefix + name for name, _ in backbone.named_parameters()
        if prefix + name not in state_dict
    ]
    if not missing:
        return
    source = last_read_checkpoint() or 'the checkpoint'
    raise SmallCheckpointError(
        f'{source} is a small checkpoint: it holds the trained parameters '
        f'only, not the {len(missing)} frozen tensors of '
        f'{prefix.rstrip(".") or "the backbone"} (first: {missing[:2]}), '
        'which come from the image model it was trained on '
        f'({marker.get("pretrained")}, fingerprint '
        f'{str(marker.get("fingerprint"))[:16]}...). Load it with a runner '
        'of this package\'s configs (SmallCheckpointHook: load_from, '
        '--resume, tools/test.py, mim test), tools/merge_adapters.py or '
        'tools/deployment/export_onnx.py, with model.backbone.pretrained '
        'set to that file; or call zeroi2v_mm.utils.small_checkpoint.'
        'restore_small_checkpoint(checkpoint, model) before loading')
