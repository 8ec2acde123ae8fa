"""Checkpoints of the official ZeroI2V code (MCG-NJU/ZeroI2V) in this package.

The official code (``mmaction/models/backbones/vit_zero_clip*.py``) saves two
formats, both read here:

* **training** (what its README links, "before reparam"): an MMEngine
  checkpoint whose ``state_dict`` holds ``backbone.*`` (CLIP visual tower
  names, torch ``nn.MultiheadAttention``'s ``attn.in_proj_weight`` /
  ``in_proj_bias``, the linear adapters ``T_Adapter_in``, ``S_Adapter``,
  ``MLP_Adapter`` and, with ``num_tadapter=2``, ``MLP_Adapter_out``, each
  ``D_fc1`` (down) + ``D_fc2`` (up)) and ``cls_head.fc_cls.*``;
* **merged**: the bare state dict its ``tools/weight_reparam.py`` writes: the
  same keys with the adapters folded into ``in_proj``, ``out_proj``,
  ``c_fc`` and ``c_proj``.

The official block computes (``x``: tokens; every adapter is
``x + s * D_fc2(dropout(D_fc1 x))``)::

    x = x + S_Adapter(attn(T_Adapter_in(ln_1(x))))
    x = x + MLP_Adapter_out(mlp(MLP_Adapter(ln_2(x))))   # num_tadapter=2
    x = x + mlp(MLP_Adapter(ln_2(x)))                    # num_tadapter=1

which is exactly :class:`~zeroi2v_mm.models.ZeroI2VViT`'s block with the
adapters on ``attn.in_proj`` (input), ``attn.out_proj`` (output),
``mlp.c_fc`` (input) and ``mlp.c_proj`` (output): see :data:`ADAPTER_TARGETS`.
The adapter form (skip connection, scale on the branch, dropout between the
two linears) is the same as :class:`~zeroi2v_mm.models.LinearAdapter`'s.

What the weights do not say, the STDHA head schedule and the adapter scale
``s``, the caller gives (:func:`set_settings`):
``tools/convert_official_checkpoint.py`` takes them from its table of the
released models or from its command line.
"""
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from mmaction.registry import MODELS

from ..utils.checkpoint import UnsafeCheckpointError, load_checkpoint_file
from .backbones.image_vit import ARCHS
from .layers.linear_adapter import bottleneck_width

BLOCK = 'backbone.transformer.resblocks.'

# Official adapter module -> where it sits in this package's block.
ADAPTER_TARGETS: Dict[str, str] = {
    'T_Adapter_in': 'attn.in_proj.input_adapters.0',  # before qkv, shared
    'T_Adapter_in_q': 'attn.in_proj.input_adapters.0',  # attn_adapter_type
    'T_Adapter_in_k': 'attn.in_proj.input_adapters.1',  # ='qkv' (ablation
    'T_Adapter_in_v': 'attn.in_proj.input_adapters.2',  # code): one each
    'S_Adapter': 'attn.out_proj.output_adapter',  # after out-proj
    'MLP_Adapter': 'mlp.c_fc.input_adapters.0',  # before MLP fc1
    'MLP_Adapter_out': 'mlp.c_proj.output_adapter',  # after MLP fc2
}
ADAPTER_LAYERS = {'D_fc1': 'down', 'D_fc2': 'up'}

# The official adapter sets and the ``adapters.num_adapters`` they are here.
ADAPTER_LAYOUTS: Dict[frozenset, int] = {
    # num_tadapter=1: no adapter after the MLP
    frozenset({'T_Adapter_in', 'S_Adapter', 'MLP_Adapter'}):
    3,
    # num_tadapter=2: every released model
    frozenset({'T_Adapter_in', 'S_Adapter', 'MLP_Adapter', 'MLP_Adapter_out'}):
    4,
    # attn_adapter_type='qkv', num_tadapter=2 (vit_zero_clip_ablation.py)
    frozenset({
        'T_Adapter_in_q',
        'T_Adapter_in_k',
        'T_Adapter_in_v',
        'S_Adapter',
        'MLP_Adapter',
        'MLP_Adapter_out',
    }):
    6,
}

# Official -> package names of every non-adapter tensor of a block.
BLOCK_PARAMS: Dict[str, str] = OrderedDict([
    ('ln_1.weight', 'ln_1.weight'),
    ('ln_1.bias', 'ln_1.bias'),
    ('attn.in_proj_weight', 'attn.in_proj.weight'),
    ('attn.in_proj_bias', 'attn.in_proj.bias'),
    ('attn.out_proj.weight', 'attn.out_proj.weight'),
    ('attn.out_proj.bias', 'attn.out_proj.bias'),
    ('ln_2.weight', 'ln_2.weight'),
    ('ln_2.bias', 'ln_2.bias'),
    ('mlp.c_fc.weight', 'mlp.c_fc.weight'),
    ('mlp.c_fc.bias', 'mlp.c_fc.bias'),
    ('mlp.c_proj.weight', 'mlp.c_proj.weight'),
    ('mlp.c_proj.bias', 'mlp.c_proj.bias'),
])
# Outside the blocks: same names (the official backbone has no ``proj``).
STEM_PARAMS = ('backbone.conv1.weight', 'backbone.class_embedding',
               'backbone.positional_embedding', 'backbone.temporal_embedding',
               'backbone.ln_pre.weight', 'backbone.ln_pre.bias',
               'backbone.ln_post.weight', 'backbone.ln_post.bias',
               'cls_head.fc_cls.weight', 'cls_head.fc_cls.bias')


class OfficialCheckpointError(ValueError):
    """A file that is not a usable official ZeroI2V checkpoint; the message
    names the file and the key or value at fault."""


@dataclass
class OfficialSpec:
    """What an official checkpoint holds and how to rebuild it here.

    ``arch``: width / layers / heads / patch_size / image_size;
    ``arch_name``: ``'ViT-B/16'`` etc. when it is a standard one;
    ``num_adapters``: 3, 4 or 6 (None for the merged format); ``offsets``,
    ``adapter_scale``, where they came from (``*_source``) and the name of
    the released model they are (``released``) are filled by
    :func:`set_settings`.
    """
    path: str
    format: str  # 'training' or 'merged'
    container: str  # 'mmengine' ({'state_dict': ...}) or 'state_dict'
    arch: dict
    arch_name: Optional[str]
    num_frames: int
    num_classes: int
    num_adapters: Optional[int] = None
    adapter_names: Tuple[str, ...] = ()
    adapter_hidden: Optional[int] = None
    offsets: Dict[int, int] = field(default_factory=dict)
    offsets_source: str = ''
    adapter_scale: Optional[float] = None
    scale_source: str = ''
    released: Optional[str] = None

    @property
    def adapter_ratio(self) -> Optional[float]:
        if self.adapter_hidden is None:
            return None
        return self.adapter_hidden / self.arch['width']

    def summary(self) -> dict:
        """Plain values for printing and for the output's ``meta``."""
        return dict(
            format=self.format,
            container=self.container,
            arch=self.arch_name or dict(self.arch),
            num_frames=self.num_frames,
            num_classes=self.num_classes,
            num_adapters=self.num_adapters,
            adapter_names=list(self.adapter_names),
            adapter_ratio=self.adapter_ratio,
            stdha_offsets=[list(item) for item in self.offsets.items()],
            stdha_source=self.offsets_source,
            adapter_scale=self.adapter_scale,
            scale_source=self.scale_source,
            released=self.released)


# ---------------------------------------------------------------- reading
def read_official_state_dict(path: str) -> Tuple[Dict[str, Tensor], str]:
    """The tensors of ``path`` and their container.

    Read with the package's safe loader
    (:func:`zeroi2v_mm.utils.checkpoint.load_checkpoint_file`: torch's
    ``weights_only`` plus exactly the MMEngine/numpy types an MMEngine
    training checkpoint holds); a file that pickles anything else is refused
    naming the type, unless the user trusts it explicitly.

    Returns:
        ``(state_dict, container)`` with container ``'mmengine'`` or
        ``'state_dict'``; ``module.`` prefixes (DDP) removed.
    """
    if not osp.isfile(path):
        raise OfficialCheckpointError(f'{path}: no such file')
    try:
        obj = load_checkpoint_file(path, map_location='cpu')
    except UnsafeCheckpointError:
        raise  # names the file, the type and the explicit opt-in
    except Exception as error:  # not a torch file at all
        raise OfficialCheckpointError(
            f'{path}: not a checkpoint of the official ZeroI2V code '
            f'(torch.load cannot read it: {type(error).__name__}: '
            f'{str(error)[:200]})') from None
    container = 'state_dict'
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj, container = obj['state_dict'], 'mmengine'
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(key, str) and isinstance(value, Tensor)
            for key, value in obj.items()):
        raise OfficialCheckpointError(
            f'{path}: not a checkpoint of the official ZeroI2V code (expected '
            'a state dict of tensors, or an MMEngine checkpoint holding one; '
            f'found {type(obj).__name__})')
    if all(key.startswith('module.') for key in obj):
        obj = {key[len('module.'):]: value for key, value in obj.items()}
    return dict(obj), container


def _check_is_official(state: Dict[str, Tensor], path: str) -> None:
    if f'{BLOCK}0.attn.in_proj.weight' in state:
        raise OfficialCheckpointError(
            f'{path}: already in zeroi2v_mm layout (key '
            f'{BLOCK}0.attn.in_proj.weight); load it with its config as it '
            'is, no conversion needed')
    probe = f'{BLOCK}0.attn.in_proj_weight'
    if probe not in state or 'backbone.conv1.weight' not in state:
        raise OfficialCheckpointError(
            f'{path}: not a checkpoint of the official ZeroI2V code (no '
            f'{probe!r} / backbone.conv1.weight; keys look like '
            f'{sorted(state)[:4]})')


def infer_spec(state: Dict[str, Tensor],
               path: str,
               heads: Optional[int] = None,
               container: str = 'state_dict') -> OfficialSpec:
    """Width, depth, heads, patch, image size, frames, classes and the
    adapter layout, read off the key names and tensor shapes.

    Heads cannot be read off the weights: CLIP ViTs use 64-wide heads, so
    ``width // 64`` unless ``heads`` is given. Only shapes are read, so the
    tensors may live on the ``meta`` device.
    """
    _check_is_official(state, path)
    for key in ('backbone.positional_embedding', 'backbone.temporal_embedding',
                'cls_head.fc_cls.weight'):
        if key not in state:
            raise OfficialCheckpointError(f'{path}: missing key {key!r}')
    width, _, patch_size, _ = state['backbone.conv1.weight'].shape
    tokens = state['backbone.positional_embedding'].shape[0]
    grid = int(round((tokens - 1)**0.5))
    if grid * grid + 1 != tokens:
        raise OfficialCheckpointError(
            f'{path}: backbone.positional_embedding has {tokens} tokens, not '
            'a square patch grid + CLS')
    temporal = state['backbone.temporal_embedding']
    if temporal.dim() != 3 or temporal.shape[0] != 1 or \
            temporal.shape[2] != width:
        raise OfficialCheckpointError(
            f'{path}: backbone.temporal_embedding has shape '
            f'{tuple(temporal.shape)}; the official model has (1, T, '
            f'{width})')
    pattern = re.compile(re.escape(BLOCK) + r'(\d+)\.')
    blocks = sorted({int(m.group(1)) for m in map(pattern.match, state) if m})
    layers = len(blocks)
    if blocks != list(range(layers)):
        first_gap = next(i for i in range(layers + 1) if i not in blocks)
        raise OfficialCheckpointError(
            f'{path}: missing key {BLOCK}{first_gap}.attn.in_proj_weight '
            f'(blocks found: {blocks})')
    if heads is None:
        if width % 64:
            raise OfficialCheckpointError(
                f'{path}: width {width} is not a multiple of 64, so the head '
                'count cannot be assumed (CLIP uses 64-wide heads); give it '
                '(--heads)')
        heads = width // 64
    if width % heads:
        raise OfficialCheckpointError(
            f'{path}: width {width} is not divisible by heads={heads}')
    arch = dict(
        width=int(width),
        layers=layers,
        heads=int(heads),
        patch_size=int(patch_size),
        image_size=grid * patch_size)
    arch_name = next(
        (name for name, settings in ARCHS.items() if settings == arch), None)

    # Adapters: the official module names in block 0; every block must have
    # the same (checked with the full key list by check_keys).
    adapter_re = re.compile(
        re.escape(f'{BLOCK}0.') + r'([A-Za-z_]*Adapter'
        r'[A-Za-z_]*)\.')
    names = sorted({m.group(1) for m in map(adapter_re.match, state) if m})
    spec = OfficialSpec(
        path=path,
        format='training' if names else 'merged',
        container=container,
        arch=arch,
        arch_name=arch_name,
        num_frames=int(temporal.shape[1]),
        num_classes=int(state['cls_head.fc_cls.weight'].shape[0]),
        adapter_names=tuple(names))
    if names:
        unknown = [n for n in names if n not in ADAPTER_TARGETS]
        if unknown:
            raise OfficialCheckpointError(
                f'{path}: unknown key {BLOCK}0.{unknown[0]}.* (an adapter '
                f'this converter does not know; known: '
                f'{sorted(ADAPTER_TARGETS)})')
        layout = ADAPTER_LAYOUTS.get(frozenset(names))
        if layout is None:
            raise OfficialCheckpointError(
                f'{path}: adapters {names} per block form no layout that '
                'exists here (3: T_Adapter_in, S_Adapter, MLP_Adapter; 4: + '
                'MLP_Adapter_out; 6: T_Adapter_in_q/k/v, S_Adapter, '
                'MLP_Adapter, MLP_Adapter_out)')
        spec.num_adapters = layout
        down = f'{BLOCK}0.{names[0]}.D_fc1.weight'
        if down not in state:
            raise OfficialCheckpointError(f'{path}: missing key {down!r}')
        spec.adapter_hidden = int(state[down].shape[0])
    return spec


def expected_keys(spec: OfficialSpec) -> List[str]:
    """Every key an official checkpoint of ``spec`` holds, in order."""
    keys = list(STEM_PARAMS)
    for block in range(spec.arch['layers']):
        prefix = f'{BLOCK}{block}.'
        keys += [prefix + name for name in BLOCK_PARAMS]
        for adapter in spec.adapter_names:
            keys += [
                f'{prefix}{adapter}.{layer}.{kind}' for layer in ADAPTER_LAYERS
                for kind in ('weight', 'bias')
            ]
    return keys


def check_keys(state: Dict[str, Tensor], spec: OfficialSpec) -> None:
    """Fail naming the first missing and the first unknown key."""
    expected = expected_keys(spec)
    missing = [key for key in expected if key not in state]
    expected_set = set(expected)
    unknown = sorted(key for key in state if key not in expected_set)
    problems = []
    if missing:
        problems.append(f'missing key {missing[0]!r}' + (
            f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''))
    if unknown:
        problems.append(f'unknown key {unknown[0]!r}' + (
            f' (and {len(unknown) - 1} more)' if len(unknown) > 1 else ''))
    if problems:
        layout = (f'{spec.num_adapters} adapters per block '
                  f'{list(spec.adapter_names)}'
                  if spec.adapter_names else 'merged, no adapters')
        raise OfficialCheckpointError(
            f'{spec.path}: {"; ".join(problems)} for an official ZeroI2V '
            f'checkpoint of {spec.arch["layers"]} blocks, {layout}')


# ---------------------------------------------------------------- settings
def set_settings(spec: OfficialSpec,
                 offsets: Optional[Dict[int, int]],
                 offsets_source: str,
                 adapter_scale: Optional[float] = None,
                 scale_source: str = '',
                 released: Optional[str] = None) -> OfficialSpec:
    """Give ``spec`` what its weights cannot say: the STDHA ``{dt: heads}``
    in head order, and (training format) the adapter scale; ``*_source``
    says where each came from, ``released`` names the released model they
    are, if any.

    Raises:
        OfficialCheckpointError: a setting the format needs is None, naming
            the file and the setting.
    """
    if offsets is None:
        raise OfficialCheckpointError(
            f'{spec.path}: the STDHA offsets (which heads read which frame) '
            'are not stored in the weights; give them in head order, e.g. '
            '{-1: 1, 1: 1}')
    spec.offsets, spec.offsets_source = dict(offsets), offsets_source
    spec.released = released
    if spec.format == 'merged':
        spec.adapter_scale = None
        spec.scale_source = 'merged: scale already folded in'
        return spec
    if adapter_scale is None:
        raise OfficialCheckpointError(
            f'{spec.path}: the adapter scale (official adapter_scale: 0.5 '
            'for K400-style, 1 for SSv2 configs) is not stored in the '
            'weights; give it')
    spec.adapter_scale, spec.scale_source = float(adapter_scale), scale_source
    return spec


# -------------------------------------------------------------- converting
def convert_state_dict(state: Dict[str, Tensor],
                       spec: OfficialSpec) -> 'OrderedDict[str, Tensor]':
    """Official names -> this package's ``Recognizer3D`` state dict.

    Checks the keys first (:func:`check_keys`). ``temporal_embedding`` goes
    from (1, T, C) to (T, C); every other tensor is copied unchanged.
    """
    check_keys(state, spec)
    out: 'OrderedDict[str, Tensor]' = OrderedDict()
    for key in STEM_PARAMS:
        out[key] = state[key]
    out['backbone.temporal_embedding'] = state['backbone.temporal_embedding'][
        0].clone()
    for block in range(spec.arch['layers']):
        src, dst = f'{BLOCK}{block}.', f'{BLOCK}{block}.'
        for name, target in BLOCK_PARAMS.items():
            out[dst + target] = state[src + name]
        for adapter in spec.adapter_names:
            for layer, target_layer in ADAPTER_LAYERS.items():
                for kind in ('weight', 'bias'):
                    out[f'{dst}{ADAPTER_TARGETS[adapter]}.{target_layer}.'
                        f'{kind}'] = state[f'{src}{adapter}.{layer}.{kind}']
    return out


def model_config(spec: OfficialSpec) -> dict:
    """A ``Recognizer3D`` config of this package for ``spec``: the model the
    converted state dict loads into strictly."""
    adapters = None
    if spec.format == 'training':
        adapters = dict(
            num_adapters=spec.num_adapters,
            ratio=spec.adapter_ratio,
            scale=spec.adapter_scale,
            dropout=0.0)
    return dict(
        type='Recognizer3D',
        backbone=dict(
            type='ZeroI2VViT',
            arch=spec.arch_name or dict(spec.arch),
            num_frames=spec.num_frames,
            pretrained=None,
            act='quick_gelu',
            stdha=dict(offsets=dict(spec.offsets)),
            adapters=adapters),
        cls_head=dict(
            type='ZeroI2VHead',
            num_classes=spec.num_classes,
            in_channels=spec.arch['width'],
            average_clips='prob'),
        data_preprocessor=dict(
            type='ActionDataPreprocessor',
            mean=[122.769, 116.74, 104.04],
            std=[68.493, 66.63, 70.321],
            format_shape='NCTHW'))


def check_config_fits(model_cfg: dict,
                      spec: OfficialSpec,
                      config_name: str = 'config') -> None:
    """Raise naming the setting of ``model_cfg`` (a config's ``model``) that
    would make the converted checkpoint predict differently from the
    official model: architecture, frames, classes, activation, STDHA offsets
    and their order, adapter layout, bottleneck and scale.

    The settings compared are the built backbone's (on the ``meta`` device:
    no memory, no weights read), so every default and every spelling of the
    offsets is resolved by the backbone itself.
    """
    backbone_cfg = dict(model_cfg.get('backbone', {}))
    head = model_cfg.get('cls_head', {})

    def fail(key, have, want):
        raise OfficialCheckpointError(
            f'{config_name}: {key}={have!r} but the checkpoint '
            f'{spec.path} needs {want!r}')

    if backbone_cfg.get('type') != 'ZeroI2VViT':
        fail('model.backbone.type', backbone_cfg.get('type'), 'ZeroI2VViT')
    for key in ('compress', 'peft'):
        if backbone_cfg.get(key):
            fail(f'model.backbone.{key}', backbone_cfg.get(key), None)
    try:
        with torch.device('meta'):
            backbone = MODELS.build(dict(backbone_cfg, pretrained=None))
    except (ValueError, TypeError, KeyError) as error:
        raise OfficialCheckpointError(
            f'{config_name}: model.backbone does not build: {error}') from None
    if backbone.arch != spec.arch:
        fail('model.backbone.arch', backbone.arch, spec.arch)
    if backbone.num_frames != spec.num_frames:
        fail('model.backbone.num_frames', backbone.num_frames, spec.num_frames)
    if backbone.act != 'quick_gelu':  # the official CLIP blocks'
        fail('model.backbone.act', backbone.act, 'quick_gelu')
    offsets = backbone.stdha_offsets or {}
    if list(offsets.items()) != list(spec.offsets.items()):
        fail('model.backbone.stdha.offsets (in head order)', offsets,
             spec.offsets)
    method = backbone.method
    if spec.format == 'merged':
        if method is not None:
            fail('model.backbone.adapters', backbone.method_cfg,
                 'None (a merged checkpoint: use the _merged config)')
    else:
        if method is None or backbone.method_cfg['type'] != 'LinearAdapters':
            fail(
                'model.backbone.adapters', backbone.method_cfg,
                f'num_adapters={spec.num_adapters} (a training checkpoint: '
                'use the config with adapters, not its _merged variant)')
        if method.num_adapters != spec.num_adapters:
            fail('model.backbone.adapters.num_adapters', method.num_adapters,
                 spec.num_adapters)
        settings = method.adapter_cfg
        if bottleneck_width(spec.arch['width'],
                            settings['ratio']) != spec.adapter_hidden:
            fail('model.backbone.adapters.ratio', settings['ratio'],
                 spec.adapter_ratio)
        if abs(float(settings['scale']) - spec.adapter_scale) > 1e-12:
            fail('model.backbone.adapters.scale', settings['scale'],
                 spec.adapter_scale)
    if head.get('num_classes') != spec.num_classes:
        fail('model.cls_head.num_classes', head.get('num_classes'),
             spec.num_classes)
    if head.get('in_channels') != spec.arch['width']:
        fail('model.cls_head.in_channels', head.get('in_channels'),
             spec.arch['width'])


def read_official_checkpoint(path: str,
                             heads: Optional[int] = None
                             ) -> Tuple[Dict[str, Tensor], OfficialSpec]:
    """The tensors of ``path`` and what they hold (:func:`infer_spec`);
    give the result its settings (:func:`set_settings`) before
    :func:`write_converted`."""
    state, container = read_official_state_dict(path)
    return state, infer_spec(state, path, heads=heads, container=container)


def write_converted(state: Dict[str, Tensor],
                    spec: OfficialSpec,
                    out: str,
                    config: Optional[str] = None,
                    force: bool = False,
                    converted_by: str = 'zeroi2v_mm') -> None:
    """Write ``state`` (official names, ``spec`` with its settings) to
    ``out`` in this package's names.

    ``out`` is an MMEngine checkpoint (``meta``, ``state_dict``); before it
    is written, the model it is meant for is built (from ``config`` after
    :func:`check_config_fits`, else from :func:`model_config`) and the
    converted state dict is loaded into it strictly. Written atomically; an
    existing ``out`` is only replaced with ``force``, an input never
    (:func:`zeroi2v_mm.utils.io.check_output`). Nothing is written when
    anything fails.
    """
    import time

    import mmengine
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from ..utils.io import atomic_save_checkpoint, check_output

    # the package's one output rule (never an input, through links too)
    check_output(
        out, [('the official checkpoint', spec.path), ('the config', config)],
        force=force,
        option='OUT')
    if not spec.offsets:
        raise OfficialCheckpointError(
            f'{spec.path}: no STDHA offsets set (set_settings first)')
    converted = convert_state_dict(state, spec)

    if config is not None:
        cfg = Config.fromfile(config)
        init_default_scope(cfg.get('default_scope', 'mmaction'))
        check_config_fits(cfg.model, spec, config)
        model_cfg = cfg.model
        model_cfg.backbone.pretrained = None  # every weight is in ``out``
    else:
        model_cfg = model_config(spec)
        init_default_scope('mmaction')
    model = MODELS.build(model_cfg)
    try:
        model.load_state_dict(converted, strict=True)
    except (RuntimeError, ValueError) as error:
        raise OfficialCheckpointError(
            f'{spec.path}: the converted weights do not load strictly into '
            f'{config or "the model built for them"}: {error}') from None
    del model

    meta = dict(
        official_checkpoint=spec.summary(),
        source=osp.abspath(spec.path),
        converted_by=converted_by,
        config=config,
        time=time.strftime('%Y%m%d_%H%M%S'),
        mmengine_version=mmengine.__version__)
    atomic_save_checkpoint(dict(meta=meta, state_dict=converted), out)
