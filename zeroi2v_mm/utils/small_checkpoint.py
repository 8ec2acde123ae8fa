"""Small checkpoints: the trained parameters plus a fingerprint of the frozen
image-model weights they were trained on.

A parameter-efficient run (ZeroI2V's adapters, LoRA, ...) trains a fraction
of the backbone; the rest is the image model, unchanged from the
``pretrained`` file. A *small* checkpoint leaves those frozen tensors out and
records, for each backbone, in the backbone's state-dict metadata
(``state_dict._metadata[prefix]['frozen_fingerprint']``, which travels with
the state dict into every loader: MMEngine's runner, MMAction2's
``init_recognizer`` and inferencer, ``torch.nn.Module.load_state_dict``) and
in ``checkpoint['meta']['frozen_weights']`` (for people and tools):

* ``keys``: the frozen tensors left out (backbone-relative names);
* ``fingerprint``: sha256 over them (:func:`fingerprint`);
* ``pretrained`` / ``pretrained_abs``: the image-model file they came from,
  as the config named it and as an absolute path.

Loading is the backbone's own job (:class:`SmallCheckpointBackbone`, in its
``_load_from_state_dict``), so a small checkpoint loads wherever a full one
does, with nothing to set: the frozen tensors come back from the first of
the config's ``pretrained``, the recorded path and the recorded absolute path
that holds exactly the fingerprinted weights. None found is an error naming
the file it needs. A checkpoint that holds the frozen tensors *and* records
a fingerprint (say, a merged file that kept a small checkpoint's metadata)
must match it, or it is refused: merged weights are never replaced by image
weights.

Saving is done by :class:`zeroi2v_mm.engine.SmallCheckpointHook`.
"""
import hashlib
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .checkpoint import CheckpointMismatchError, last_read_checkpoint

META_KEY = 'frozen_weights'
# Written into the backbone's state-dict metadata (``_metadata[prefix]``).
METADATA_KEY = 'frozen_fingerprint'
ALGORITHM = 'sha256(name, dtype, shape, bytes) over frozen tensors by name'


class SmallCheckpointError(CheckpointMismatchError):
    """A small checkpoint that cannot be completed (no file with its frozen
    weights), or a checkpoint whose frozen weights differ from what it
    records."""


class SmallCheckpointBackbone:
    """Mixin of the backbones whose frozen tensors can be left out of
    checkpoints and read back from their ``pretrained`` image-model file.

    A backbone provides ``self.pretrained`` (a local path or None) and
    :meth:`read_frozen_source`, and calls :meth:`complete_frozen_weights`
    first thing in its ``_load_from_state_dict``.
    """

    pretrained: Optional[str]

    def read_frozen_source(self, path: str) -> Dict[str, Tensor]:
        """The tensors of the image-model file ``path`` in this backbone's
        names and shapes, as loading ``pretrained`` would give them."""
        raise NotImplementedError

    def complete_frozen_weights(self, state_dict: Dict[str, Tensor],
                                prefix: str, local_metadata: dict) -> None:
        """Put a small checkpoint's frozen tensors into ``state_dict`` (in
        place, before the children read it), or check a complete one against
        the fingerprint it records; a checkpoint without a record is left
        as it is."""
        marker = (local_metadata or {}).get(METADATA_KEY)
        if marker:
            complete_frozen_weights(state_dict, prefix, self, marker)


def fingerprint(tensors: Dict[str, Tensor]) -> str:
    """sha256 over ``tensors`` in name order: each name, dtype, shape and raw
    bytes (CPU, contiguous), so a renamed, reshaped, recast or changed tensor
    changes it."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to('cpu').contiguous()
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def small_checkpoint_backbones(model: nn.Module
                               ) -> List[Tuple[str, nn.Module]]:
    """``[(prefix, backbone)]`` for every :class:`SmallCheckpointBackbone`
    in ``model`` (``prefix`` as in the model's state dict, e.g.
    ``'backbone.'``); an outer one hides those inside it."""
    found: List[Tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        prefix = f'{name}.' if name else ''
        if isinstance(module, SmallCheckpointBackbone) and not any(
                prefix.startswith(outer) for outer, _ in found):
            found.append((prefix, module))
    return found


def frozen_names(backbone: nn.Module) -> List[str]:
    """Names (backbone-relative) of the parameters that do not train."""
    return sorted(name for name, param in backbone.named_parameters()
                  if not param.requires_grad)


def frozen_tensors_from_file(path: str, keys: Iterable[str],
                             backbone: nn.Module) -> Dict[str, Tensor]:
    """The tensors ``keys`` of the image-model file ``path``, in backbone
    names, cast to the backbone's dtypes as loading them would.

    Raises:
        SmallCheckpointError: a key absent from the file or of another shape.
    """
    weights = backbone.read_frozen_source(path)
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
# of a run are read once per process, not once per save check.
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


def frozen_entry(backbone: nn.Module, keys: List[str], digest: str) -> dict:
    """The record of a backbone's left-out tensors (see the module doc)."""
    return dict(
        pretrained=backbone.pretrained,
        pretrained_abs=osp.abspath(backbone.pretrained),
        fingerprint=digest,
        keys=list(keys),
        algorithm=ALGORITHM)


def small_checkpoint_info(checkpoint: dict) -> Optional[dict]:
    """``{prefix: entry}`` when ``checkpoint`` records frozen weights (is
    small, or claims to be), else None."""
    if not isinstance(checkpoint, dict):
        return None
    meta = checkpoint.get('meta')
    info = meta.get(META_KEY) if isinstance(meta, dict) else None
    return info or None


def _marker(entry: dict) -> dict:
    return {
        key: entry[key]
        for key in ('fingerprint', 'pretrained', 'pretrained_abs', 'keys')
        if key in entry
    }


def make_small(checkpoint: dict, entries: Dict[str, dict]) -> int:
    """Drop the frozen tensors of each backbone ``{prefix: entry}`` from
    ``checkpoint['state_dict']`` (in place) and record the entries in its
    meta and each backbone's state-dict metadata. Returns the number of
    tensors dropped."""
    state = with_metadata(checkpoint)
    dropped = 0
    for prefix, entry in entries.items():
        for key in entry['keys']:
            if state.pop(prefix + key, None) is not None:
                dropped += 1
        local = state._metadata.setdefault(prefix.rstrip('.'), {})
        local[METADATA_KEY] = _marker(entry)
    meta = checkpoint.setdefault('meta', {})
    meta[META_KEY] = {prefix: dict(entry) for prefix, entry in entries.items()}
    return dropped


def with_metadata(checkpoint: dict) -> 'OrderedDict[str, Tensor]':
    """``checkpoint['state_dict']`` as an ``OrderedDict`` with a
    ``_metadata`` attribute (created when the file had none); stored back
    into ``checkpoint``."""
    state = checkpoint['state_dict']
    metadata = getattr(state, '_metadata', None)
    if not isinstance(state, OrderedDict):
        state = OrderedDict(state)
    state._metadata = metadata if metadata is not None else OrderedDict()
    checkpoint['state_dict'] = state
    return state


def sync_frozen_records(checkpoint: dict) -> bool:
    """Copy the ``meta['frozen_weights']`` records into the state dict's
    metadata where it lacks them (a state dict rebuilt without its
    ``_metadata``), so the backbones see every record when they load.
    Returns whether the checkpoint records frozen weights."""
    info = small_checkpoint_info(checkpoint)
    if not info or not isinstance(checkpoint.get('state_dict'), dict):
        return False
    state = with_metadata(checkpoint)
    wrapped = bool(state) and all(k.startswith('module.') for k in state)
    for prefix, entry in info.items():
        for lead in ('module.', '') if wrapped else ('', ):
            local = state._metadata.setdefault((lead + prefix).rstrip('.'), {})
            local.setdefault(METADATA_KEY, _marker(entry))
    return True


def _candidates(backbone: nn.Module, marker: dict) -> List[Tuple[str, str]]:
    """``[(path, where it comes from)]``, in the order they are tried."""
    found: List[Tuple[str, str]] = []
    for path, origin in ((backbone.pretrained, 'the config\'s pretrained'),
                         (marker.get('pretrained'), 'recorded'),
                         (marker.get('pretrained_abs'), 'recorded')):
        if path and all(osp.abspath(path) != osp.abspath(p) for p, _ in found):
            found.append((osp.expanduser(str(path)), origin))
    return found


def complete_frozen_weights(state_dict: Dict[str, Tensor], prefix: str,
                            backbone: nn.Module, marker: dict) -> None:
    """What :meth:`SmallCheckpointBackbone.complete_frozen_weights` does.

    Raises:
        SmallCheckpointError: the checkpoint holds frozen tensors that do not
            match its fingerprint, holds only some of them, or none and no
            file with exactly those weights is found (naming the files tried
            and the one it was trained with).
    """
    source = last_read_checkpoint() or 'the checkpoint'
    where = prefix.rstrip('.') or 'the backbone'
    keys = list(marker.get('keys') or [])
    if not keys:  # older records: what the model lacks, or what it freezes
        keys = [
            name for name, _ in backbone.named_parameters()
            if prefix + name not in state_dict
        ] or frozen_names(backbone)
    present = [key for key in keys if prefix + key in state_dict]
    recorded = marker.get('fingerprint')
    if len(present) == len(keys):
        digest = fingerprint({key: state_dict[prefix + key] for key in keys})
        if digest != recorded:
            raise SmallCheckpointError(
                f'{source} records the fingerprint {str(recorded)[:16]}... of '
                f'the frozen weights of {where} (trained with '
                f'{marker.get("pretrained")}), but the {len(keys)} tensors '
                f'it holds give {digest[:16]}...: a merged or edited file '
                'that kept a small checkpoint\'s record. Refusing it: its '
                'weights are not what it says they are. Merge the original '
                'checkpoint again with tools/merge_adapters.py')
        return
    if present:
        raise SmallCheckpointError(
            f'{source} holds {len(present)} of the {len(keys)} frozen '
            f'tensors of {where} it records (first missing: '
            f'{[k for k in keys if prefix + k not in state_dict][:2]}): '
            'neither a small nor a full checkpoint')
    tried = []
    for path, origin in _candidates(backbone, marker):
        if not osp.isfile(path):
            tried.append(f'{path} ({origin}: not found)')
            continue
        try:
            digest, tensors = file_fingerprint(path, keys, backbone)
        except (SmallCheckpointError, OSError, ValueError) as error:
            tried.append(f'{path} ({origin}: {error})')
            continue
        if digest != recorded:
            tried.append(f'{path} ({origin}: other weights, fingerprint '
                         f'{digest[:16]}...)')
            continue
        for key, value in tensors.items():
            state_dict[prefix + key] = value
        print_log(
            f'{source}: the {len(keys)} frozen tensors of {where} '
            f'restored from {path} (fingerprint checked)',
            logger='current')
        return
    needed = marker.get('pretrained_abs') or marker.get('pretrained')
    raise SmallCheckpointError(
        f'{source} is a small checkpoint: it holds the trained parameters '
        f'only; the {len(keys)} frozen tensors of {where} come from the '
        f'image model it was trained on, {marker.get("pretrained")} '
        f'(fingerprint {str(recorded)[:16]}...), and no file with those '
        'weights was found. Tried: ' + ('; '.join(tried) or 'no file named') +
        f'. Put that image model at {needed}, or set '
        'model.backbone.pretrained to a copy of it')
