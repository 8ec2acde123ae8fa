"""Load image-model weights into :class:`ZeroI2VViT` from local files.

Accepted formats (detected from the file, never from its name):

* an OpenAI CLIP JIT archive (``ViT-B-16.pt`` as OpenAI distributes it);
* an open_clip checkpoint (``{'state_dict': ...}``) or state dict, of a whole
  CLIP model (``visual.*`` keys) or of its visual tower alone;
* a timm ``VisionTransformer`` state dict (``patch_embed.proj.*``,
  ``blocks.N.*``) or an mmpretrain ``VisionTransformer`` checkpoint
  (``backbone.patch_embed.projection.*``, ``backbone.layers.N.*``), converted
  by :mod:`.weight_formats`;
* an MMEngine checkpoint of this backbone or of a recognizer built on it
  (``backbone.*`` keys).

CLIP's ``proj`` (the image-text projection) and the classifier heads of timm
and mmpretrain are dropped. Weights whose ViT layout differs from the
backbone's ``style`` / ``layer_scale`` are refused, naming the file
(:func:`.weight_formats.check_layout`).
"""
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from torch import Tensor

# weights_only loading with exactly MMEngine's extra types; TorchScript
# archives (OpenAI CLIP) are told apart from pickles by their code/ folder.
from ...utils.checkpoint import (CheckpointMismatchError,
                                 is_torchscript_archive, last_read_checkpoint,
                                 load_checkpoint_file, loading_for_resume)
from ..layers.linear_adapter import count_adapted_linears
from ..peft.base import AdapterBlock
from .weight_formats import CONVERTERS, check_layout, detect_format

PRETRAINED_HINT = (
    'Put the image model there, e.g. OpenAI\'s CLIP ViT-B-16.pt (the file '
    'open_clip downloads for ViT-B-16 "openai"), an open_clip checkpoint, a '
    'timm ViT state dict or an mmpretrain ViT checkpoint; '
    'tools/convert_weights.py SRC OUT turns any supported format into a '
    'backbone checkpoint.')

# Key names, for inspecting checkpoint *files* only (no modules exist
# there); what a model carries is read from its modules (see
# count_adapted_linears / model_has_block_methods).
# Parameters that exist only in models with mergeable updates (linear
# adapters; the LoRA, temporal-head and SSF methods, ``peft=dict(type='LoRA'
# / 'TemporalHeads' / 'SSF')``): a checkpoint holding them cannot load into a
# plain model without losing them, and has to be merged first.
ADAPTER_MARKERS = ('input_adapters.', 'output_adapter.', '.lora_',
                   '.head_delta_', '.ssf_')
# Modules of the non-mergeable baselines (AIM, ST-Adapter, GELU adapters):
# they stay at inference, so their checkpoints need the config they were
# trained with.
PEFT_MODULE_MARKER = '.peft.'


def model_has_block_methods(model: torch.nn.Module) -> bool:
    """Whether ``model`` has Block variants of a method that stays at
    inference (AIM, ST-Adapter, GELU adapters)."""
    return any(isinstance(m, AdapterBlock) for m in model.modules())


def check_pretrained_file(path: Optional[str]) -> Optional[str]:
    """Fail, naming the path, when the weights file is absent.

    Called when training starts from the file (``ZeroI2VViT.init_weights``,
    which MMEngine's runner calls in ``train()`` only) and when a weights
    file is read; building a model does not need the file.
    """
    if path is None:
        return None
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        hint = PRETRAINED_HINT
        if osp.normpath(path).split(osp.sep)[0] == 'work_dirs':
            # an output of an earlier step, e.g. the demo's image model
            hint = ('It is written by an earlier training step (for '
                    'configs/demo/*: bash tools/run_demo.sh pre-trains and '
                    'exports the image model). ' + hint)
        raise FileNotFoundError(
            f'pretrained weights file not found: {path}. {hint}')
    return path


def read_state_dict(path: str) -> Dict[str, Tensor]:
    """The raw tensor dict of a weights file, whatever its container.

    Pickled files load with ``weights_only=True`` (plus the types MMEngine
    checkpoints hold): a file pickling anything else is refused, naming the
    file and the type (:mod:`zeroi2v_mm.utils.checkpoint`). OpenAI's CLIP
    TorchScript archives load with ``torch.jit.load``.
    """
    if is_torchscript_archive(path):
        try:
            module = torch.jit.load(path, map_location='cpu')
        except RuntimeError as error:
            raise ValueError(f'{path} is not a readable TorchScript archive: '
                             f'{str(error).splitlines()[0]}') from error
        return {k: v for k, v in module.state_dict().items()}
    obj = load_checkpoint_file(path, map_location='cpu')
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not all(
            isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f'{path}: not a state dict or checkpoint (found '
                         f'{type(obj).__name__})')
    return obj


def _strip(state: Dict[str, Tensor], prefix: str) -> Dict[str, Tensor]:
    return {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }


def to_backbone_keys(state: Dict[str, Tensor], path: str) -> Dict[str, Tensor]:
    """Map any supported layout onto :class:`ZeroI2VViT` parameter names."""
    if all(k.startswith('module.') for k in state):  # saved from DDP
        state = _strip(state, 'module.')
    library = detect_format(state)
    if library is not None:  # timm / mmpretrain ViT
        return CONVERTERS[library](state, path)
    if any(k.startswith('backbone.') for k in state):  # MMEngine recognizer
        return _strip(state, 'backbone.')
    if any(k.startswith('visual.') for k in state):  # whole CLIP model
        state = _strip(state, 'visual.')
    if 'conv1.weight' not in state:
        sample = sorted(state)[:5]
        raise ValueError(
            f'{path}: not a ViT this backbone reads (no conv1.weight or '
            f'patch_embed.* among keys like {sample}); expected an '
            'OpenAI/open_clip CLIP model or its visual tower, a timm or '
            'mmpretrain VisionTransformer, or an MMEngine checkpoint of '
            'ZeroI2VViT')
    converted = {}
    for key, value in state.items():
        if key == 'proj':
            continue  # image-text projection: not part of the video backbone
        key = key.replace('attn.in_proj_weight', 'attn.in_proj.weight')
        key = key.replace('attn.in_proj_bias', 'attn.in_proj.bias')
        converted[key] = value
    return converted


def load_backbone_weights(path: str) -> Dict[str, Tensor]:
    """Read ``path`` and return its visual-tower weights in backbone names."""
    path = check_pretrained_file(path)
    return to_backbone_keys(read_state_dict(path), path)


def load_backbone_state_dict(backbone: torch.nn.Module, path: str) -> None:
    """Load ``path`` into ``backbone`` (non-strict, with checks).

    Missing and unexpected keys are logged (a fresh video backbone misses its
    temporal embedding and adapters: that is expected). A shape mismatch, or
    a checkpoint with unmerged adapters going into a model without them,
    raises with the key and what to do.
    """
    state = load_backbone_weights(path)
    own = backbone.state_dict()
    check_layout(state, backbone, path)
    check_compatible(state, own, path, count_adapted_linears(backbone) > 0)
    load_and_log(backbone, state, path)
    print_log(f'loaded backbone weights from {path}', logger='current')


def load_and_log(backbone: torch.nn.Module, state: Dict[str, Tensor],
                 path: str) -> None:
    """``backbone.load_state_dict(state, strict=False)``, logging the keys
    ``path`` lacks (kept as initialised) and those it has in excess."""
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing:
        print_log(
            f'{path}: {len(missing)} backbone keys not in the file, '
            f'kept as initialised: {missing}',
            logger='current')
    if unexpected:
        print_log(
            f'{path}: ignored {len(unexpected)} keys the backbone does '
            f'not have: {unexpected}',
            logger='current')


def check_compatible(state: Dict[str, Tensor], own: Dict[str, Tensor],
                     path: str, model_has: bool) -> None:
    """Raise on anything a non-strict load would silently get wrong.
    ``model_has``: whether the model carries mergeable updates
    (``count_adapted_linears(model) > 0``)."""
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f'{path}: shape mismatch for {key}: checkpoint '
                f'{tuple(value.shape)} vs model {tuple(own[key].shape)} (a '
                'checkpoint for another model size, patch size, image size or '
                'frame count?)')
    file_has = any(m in k for k in state for m in ADAPTER_MARKERS)
    if file_has and not model_has:
        raise ValueError(
            f'{path} holds unmerged linear adapters but the model has none: '
            'merge the checkpoint first (tools/merge_adapters.py) or build '
            'the model with the adapters of the config it was trained with')


def check_checkpoint_adapters(state_dict: Dict[str, Tensor], prefix: str,
                              backbone: torch.nn.Module) -> None:
    """Refuse a checkpoint whose linear adapters do not match ``backbone``.

    Called by ``ZeroI2VViT._load_from_state_dict``, so it guards every load:
    torch's ``load_state_dict`` and MMEngine's (``load_from``, ``mim test``,
    ``tools/test.py``, which only warn about unexpected or missing keys).

    * Adapter keys going into a model without adapters: always refused (the
      adapters would be silently dropped).
    * A merged checkpoint (no adapter keys, but a whole video backbone with
      its temporal embedding) going into a model with adapters: refused only
      when the backbone is part of the model being loaded (``prefix`` is not
      empty, e.g. ``'backbone.'``), i.e. a recognizer checkpoint. Loading
      image or video weights into the backbone itself (``prefix == ''``:
      :func:`load_backbone_state_dict`, ``backbone.load_state_dict``) is how
      a run starts from pretrained weights with fresh adapters, and stays
      allowed.

    Args:
        state_dict: the keys being loaded (full names, with ``prefix``).
        prefix: where the backbone sits in the loaded model (``''`` at root).
        backbone: the model receiving them.
    """
    keys = [k[len(prefix):] for k in state_dict if k.startswith(prefix)]
    file_adapters = [k for k in keys if any(m in k for m in ADAPTER_MARKERS)]
    model_has = count_adapted_linears(backbone) > 0
    if file_adapters and not model_has:
        raise ValueError(
            f'checkpoint key {prefix + file_adapters[0]!r} (and '
            f'{len(file_adapters) - 1} more) belongs to an unmerged linear '
            'adapter (or LoRA / temporal-head update), but this model was '
            'built with model.backbone.adapters=None (peft=None). Test the '
            'checkpoint with the config it was trained with, or merge it '
            'first: '
            'python tools/merge_adapters.py CONFIG CHECKPOINT --out '
            'MERGED.pth, then use MERGED.pth with this config')
    file_peft = [k for k in keys if PEFT_MODULE_MARKER in k]
    if file_peft and not model_has_block_methods(backbone):
        raise ValueError(
            f'checkpoint key {prefix + file_peft[0]!r} (and '
            f'{len(file_peft) - 1} more) belongs to a baseline method that '
            'stays at inference (model.backbone.peft: AIM, ST-Adapter or '
            'GELU adapters), but this model was built without it: use the '
            'config the checkpoint was trained with')
    whole_video_backbone = 'temporal_embedding' in keys and any(
        k.endswith('attn.in_proj.weight') for k in keys)
    if prefix and model_has and not file_adapters and whole_video_backbone:
        raise ValueError(
            f'checkpoint holds a merged model (keys {prefix}transformer.* '
            'without linear adapters, e.g. a *_merged.pth written by '
            'MergeAdaptersHook or tools/merge_adapters.py), but this model '
            'was built with adapters. Load it with the merged-inference '
            'config (the *_merged.py beside the training config), or add '
            '--cfg-options model.backbone.adapters=None; '
            'zeroi2v_mm.apis.init_model(TRAINING_CONFIG, CHECKPOINT) takes '
            'it as it is. Resuming training from a merged file is not '
            'possible (its adapters are folded in)')


def _shape(value) -> tuple:
    return tuple(getattr(value, 'shape', ()))


def check_checkpoint_fits(state_dict: Dict[str, Tensor],
                          prefix: str,
                          module: torch.nn.Module,
                          require_all: Optional[bool] = None) -> None:
    """Refuse a checkpoint whose tensors do not fit ``module``.

    MMEngine's loader (``load_from``, ``--resume``, ``mim test``,
    ``init_recognizer``) only logs size mismatches and missing keys, so a
    checkpoint of another model would be evaluated with random weights.

    Args:
        state_dict: the keys being loaded (full names, with ``prefix``).
        prefix: where ``module`` sits in the loaded model.
        module: the module receiving them.
        require_all: also refuse when a key of ``module`` is absent. None
            (the backbones' rule): when a whole model is loaded (``prefix``
            not empty) into a module not initialised for training (testing,
            inference, merge), or by ``Runner.resume``.

    Raises:
        CheckpointMismatchError (a ValueError): naming the first mismatching
            keys with both shapes, or the first missing keys, and the file
            last read by the safe loader.
    """
    if require_all is None:
        require_all = bool(prefix) and (not getattr(module, 'is_init', False)
                                        or loading_for_resume())
    own = module.state_dict()
    source = last_read_checkpoint()
    source = f' (file last read: {source})' if source else ''
    mismatched = [
        (prefix + key, _shape(state_dict[prefix + key]), tuple(value.shape))
        for key, value in own.items() if prefix +
        key in state_dict and _shape(state_dict[prefix +
                                                key]) != tuple(value.shape)
    ]
    if mismatched:
        shown = '; '.join(f'{key}: checkpoint {a} vs model {b}'
                          for key, a, b in mismatched[:3])
        raise CheckpointMismatchError(
            f'checkpoint{source} does not fit the model: {len(mismatched)} '
            f'tensors have other shapes ({shown}). It was trained with '
            'another config (width, adapter ratio, frame count, patch or '
            'image size): use that config')
    if require_all:
        missing = [
            prefix + key for key in own if prefix + key not in state_dict
        ]
        if missing:
            raise CheckpointMismatchError(
                f'checkpoint{source} lacks {len(missing)} of the {len(own)} '
                f'tensors '
                f'of {prefix.rstrip(".") or "the model"} (first: '
                f'{missing[:3]}): testing it would use untrained weights. '
                'Use the checkpoint written by training this config')
