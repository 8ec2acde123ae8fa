"""Convert a checkpoint of the official ZeroI2V code (MCG-NJU/ZeroI2V) for
this package.

    python tools/convert_official_checkpoint.py SRC OUT [--stdha=-1:1,1:1]
        [--adapter-scale S] [--heads H] [--config CONFIG] [--force]

SRC: a training checkpoint of the official code (what its README links:
MMEngine checkpoint, ``backbone.*`` with ``T_Adapter_in`` / ``S_Adapter`` /
``MLP_Adapter`` / ``MLP_Adapter_out``, ``cls_head.fc_cls.*``), or the bare
state dict its ``tools/weight_reparam.py`` writes (adapters folded in).
ViT-B/16 and ViT-L/14 (any width/depth/patch), 3, 4 or 6 adapters per block.

OUT: an MMEngine checkpoint (``meta``, ``state_dict``) that the matching
config here loads strictly (``load_from``, ``mim test --checkpoint``): the
config with adapters for the training format, its ``_merged`` variant for the
merged one. The tool prints which config fits.

The STDHA head schedule and the adapter scale are not stored in the weights:
they come from :data:`RELEASED` below (the released models and the configs of
the official code, keyed by arch, frames and classes), or from ``--stdha`` /
``--adapter-scale``. ``--config`` also checks that config against the
checkpoint (head order, scale, adapters, ...) and loads the result into it.
Never overwrites OUT without ``--force``; writes nothing when anything fails.
The reading, key mapping and writing are
``zeroi2v_mm/models/official_checkpoint.py``.
"""
import argparse
import os.path as osp
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

import zeroi2v_mm  # noqa: F401  (registries and stack fixes)
from zeroi2v_mm.models.official_checkpoint import (OfficialCheckpointError,
                                                   OfficialSpec,
                                                   check_config_fits,
                                                   read_official_checkpoint,
                                                   set_settings,
                                                   write_converted)
from zeroi2v_mm.utils.cli import run_tool
from zeroi2v_mm.utils.io import check_output, run_inputs

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@dataclass(frozen=True)
class ReleasedModel:
    """A setting of the official code: what its weights cannot tell.

    ``offsets`` is this package's ``{dt: heads}`` (head reads frame t+dt,
    assigned from head 0 in the listed order); ``source`` says which official
    config / STDHA arguments it comes from.
    """
    name: str
    arch: str
    num_frames: int
    num_classes: int
    offsets: Tuple[Tuple[int, int], ...]
    adapter_scale: float
    config: Optional[str]
    merged_config: Optional[str]
    source: str
    checkpoint_released: bool


# Keyed by (arch, frames, classes). The official TemporalShift gives the first
# ``C/shift_div`` channels of k and v frame t-1, the next frame t+1, then
# (``long_shift_div`` / ``shift2_div``) t-2, (``long_shift_right``) t+2,
# (``shift3_div``) t-3; ``C/div`` channels are ``heads/div`` heads.
RELEASED: Tuple[ReleasedModel, ...] = (
    ReleasedModel(
        'K400 ViT-B/16 8f (83.0)', 'ViT-B/16', 8, 400, ((-1, 1), (1, 1)), 0.5,
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.py',
        'CLIP-B_k400_8x16x1.py: stdha.py shift_div=12, adapter_scale=0.5',
        True),
    ReleasedModel(
        'K400 ViT-L/14 8f (86.3)', 'ViT-L/14', 8, 400, ((-1, 2), (1, 2)), 0.5,
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-large-p14_8x16x1-40e_kinetics400-rgb.py',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-large-p14_8x16x1-40e_kinetics400-rgb_merged.py',
        'CLIP-L_k400_8x16x1.py: stdha.py shift_div=8, adapter_scale=0.5',
        True),
    ReleasedModel(
        'K400 ViT-L/14 32f (87.2)', 'ViT-L/14', 32, 400,
        ((-1, 2), (1, 2), (-2, 2)), 0.5, 'configs/recognition/zeroi2v/'
        'zeroi2v-released_clip-vit-large-p14_32x4x1-40e_kinetics400-rgb.py',
        None, 'CLIP-L_k400_32x4x1.py: stdha.py shift_div=8, long_shift_div=8, '
        'adapter_scale=0.5', True),
    ReleasedModel(
        'SSv2 ViT-L/14 32f (72.2)', 'ViT-L/14', 32, 174,
        ((-1, 2), (1, 2), (-2, 1), (2, 1), (-3, 1)), 1.0,
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb.py',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb_merged.py',
        'CLIP-L_sthv2_u32.py: stdha_long.py shift1_div=8, shift2_div=16, '
        'shift3_div=16, shift3_right=False, adapter_scale=1', True),
    ReleasedModel(
        'SSv2 ViT-B/16 16f (config only)', 'ViT-B/16', 16, 174,
        ((-1, 1), (1, 1), (-2, 1), (2, 1)), 1.0, 'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_u16-50e_sthv2-rgb.py', None,
        'CLIP-B_sthv2_u16.py: stdha_ablation.py shift_div=12, '
        'long_shift_div=12, long_shift_right=True, adapter_scale=1', False),
    ReleasedModel(
        'UCF101 ViT-B/16 8f (config only)', 'ViT-B/16', 8, 101,
        ((-1, 1), (1, 1)), 0.5, 'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_u8-40e_ucf101-split1-rgb.py', None,
        'CLIP-B_ucf101_u8_split1.py: stdha.py shift_div=12, '
        'adapter_scale=0.5', False),
    ReleasedModel(
        'HMDB51 ViT-B/16 8f (config only)', 'ViT-B/16', 8, 51,
        ((-1, 1), (1, 1)), 0.5, 'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_u8-40e_hmdb51-split1-rgb.py', None,
        'CLIP-B_hmdb51_u8_split1.py: stdha.py shift_div=12, '
        'adapter_scale=0.5', False),
    ReleasedModel(
        'UCF101 ViT-B/16 32f (config only)', 'ViT-B/16', 32, 101,
        ((-1, 1), (1, 1), (-2, 1), (2, 1)), 0.5, None, None,
        'CLIP-B_ucf101_u32_split1.py: stdha_ablation.py shift_div=12, '
        'long_shift_div=12, long_shift_right=True, adapter_scale=0.5', False),
    ReleasedModel(
        'HMDB51 ViT-B/16 32f (config only)', 'ViT-B/16', 32, 51,
        ((-1, 1), (1, 1), (-2, 1), (2, 1)), 0.5, None, None,
        'CLIP-B_hmdb51_u32_split1.py: stdha_ablation.py shift_div=12, '
        'long_shift_div=12, long_shift_right=True, adapter_scale=0.5', False),
)


def parse_offsets(text: str) -> Dict[int, int]:
    """``'-1:1,1:1'`` or ``'{-1: 1, 1: 1}'`` -> ``{-1: 1, 1: 1}`` (order
    kept: it is the head order)."""
    body = text.strip().strip('{}').strip()
    offsets: Dict[int, int] = {}
    for item in filter(None, (part.strip() for part in body.split(','))):
        match = re.fullmatch(r'([+-]?\d+)\s*:\s*(\d+)', item)
        if not match:
            raise ValueError(f'STDHA offsets {text!r}: cannot read {item!r}; '
                             "write e.g. '-1:1,1:1' (dt:heads, head order)")
        dt, count = int(match.group(1)), int(match.group(2))
        if dt in offsets:
            raise ValueError(f'STDHA offsets {text!r}: dt={dt} listed twice')
        offsets[dt] = count
    if not offsets:
        raise ValueError(f'STDHA offsets {text!r} are empty')
    return offsets


def find_released(spec: OfficialSpec) -> Optional[ReleasedModel]:
    """The :data:`RELEASED` entry of (arch, frames, classes), if any."""
    return next((model for model in RELEASED
                 if model.arch == spec.arch_name and model.num_frames ==
                 spec.num_frames and model.num_classes == spec.num_classes),
                None)


def released_settings(spec: OfficialSpec,
                      offsets: Optional[Dict[int, int]] = None,
                      adapter_scale: Optional[float] = None) -> OfficialSpec:
    """Fill in the STDHA offsets and the adapter scale of ``spec``: given
    values win, else the :data:`RELEASED` entry of its (arch, frames,
    classes); say which (``*_source``)."""
    released = find_released(spec)
    key = (f'({spec.arch_name or spec.arch}, {spec.num_frames} frames, '
           f'{spec.num_classes} classes)')
    if offsets is not None:
        offsets_source = 'given (--stdha)'
    elif released is not None:
        offsets = dict(released.offsets)
        offsets_source = (f'released model {released.name!r}: '
                          f'{released.source}')
    else:
        raise OfficialCheckpointError(
            f'{spec.path}: no released ZeroI2V model is {key}, and STDHA '
            'offsets cannot be read off the weights: give them in head '
            "order, e.g. --stdha=-1:1,1:1 (official shift_div=12 on 12 "
            'heads: head 0 reads t-1, head 1 reads t+1)')
    scale_source = ''
    if spec.format == 'training':
        if adapter_scale is not None:
            scale_source = 'given (--adapter-scale)'
        elif released is not None:
            adapter_scale = released.adapter_scale
            scale_source = f'released model {released.name!r}'
        else:
            raise OfficialCheckpointError(
                f'{spec.path}: no released ZeroI2V model is {key}, and the '
                'adapter scale (official adapter_scale: 0.5 for K400-style, '
                '1 for SSv2 configs) is not stored in the weights: give it '
                '(--adapter-scale)')
    return set_settings(
        spec,
        offsets,
        offsets_source,
        adapter_scale,
        scale_source,
        released=released.name if released else None)


def config_problem(path: str, spec: OfficialSpec) -> Optional[str]:
    """Why the config file ``path`` would not reproduce ``spec`` (None if
    it would): :func:`check_config_fits`'s message."""
    try:
        check_config_fits(Config.fromfile(path).model, spec, path)
    except OfficialCheckpointError as error:
        return str(error)
    return None


def fitting_configs(spec: OfficialSpec,
                    repo: str = REPO,
                    out: str = 'OUT') -> List[str]:
    """Lines saying which config of ``repo/configs`` fits ``spec``, and the
    ``mim test`` command for the converted checkpoint ``out``."""
    released = find_released(spec)
    # pairs, not a dict: MMEngine's Config.dump sorts dict keys, which would
    # reorder the heads in work_dirs/<config>.py
    offsets = '[' + ', '.join(f'({dt}, {n})'
                              for dt, n in spec.offsets.items()) + ']'
    merged_options = ('--cfg-options model.backbone.adapters=None '
                      'model.backbone.pretrained=None "custom_hooks=[]"')
    lines = []
    if released is not None and (list(spec.offsets.items()) != list(
            released.offsets) or spec.format == 'training' and
                                 spec.adapter_scale != released.adapter_scale):
        lines.append(
            f'WARNING: the released model {released.name!r} has STDHA '
            f'{dict(released.offsets)} and adapter scale '
            f'{released.adapter_scale}; you gave {spec.offsets} and '
            f'{spec.adapter_scale}')
    if released is not None:
        name = (
            released.merged_config
            if spec.format == 'merged' else released.config)
        if name and osp.isfile(osp.join(repo, name)):
            lines.append(f'config: {name} (released model '
                         f'{released.name!r})')
            problem = config_problem(osp.join(repo, name), spec)
            if problem:
                lines.append(f'WARNING: {name} does not fit as it is: '
                             f'{problem}; fix the config (or pass it with '
                             '--cfg-options) before using this checkpoint')
            # every weight is in the checkpoint: no CLIP file is needed
            options = ('' if spec.format == 'merged' else
                       ' --cfg-options model.backbone.pretrained=None')
            lines.append(f'use: mim test mmaction {name} --checkpoint {out}'
                         f'{options}')
        elif spec.format == 'merged' and released.config and osp.isfile(
                osp.join(repo, released.config)):
            lines.append(f'config: {released.config} with {merged_options} '
                         f'({name or "no _merged config"} is not in this '
                         'checkout)')
            lines.append(f'use: mim test mmaction {released.config} '
                         f'--checkpoint {out} {merged_options}')
        else:
            lines.append(f'config: {name or released.config or "none"} is '
                         'not in this checkout; build one with the settings '
                         'below')
    else:
        lines.append('config: no config here is known to fit (not a '
                     'released model); start from configs/recognition/zeroi2v/'
                     'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py '
                     'and set the settings below')
    adapters = ('adapters=None' if spec.format == 'merged' else
                f'adapters=dict(num_adapters={spec.num_adapters}, '
                f'ratio={spec.adapter_ratio}, scale={spec.adapter_scale})')
    lines.append(
        f'settings: arch={spec.arch_name or spec.arch}, '
        f'num_frames={spec.num_frames}, stdha=dict(offsets={offsets}) (head '
        f"order matters), {adapters}, act='quick_gelu', "
        f'cls_head.num_classes={spec.num_classes}')
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official ZeroI2V checkpoint (training or '
        'weight_reparam.py merged format) for zeroi2v_mm')
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('out', help='converted checkpoint to write (.pth)')
    parser.add_argument(
        '--stdha',
        default=None,
        help="STDHA offsets in head order, dt:heads, e.g. "
        "--stdha=-1:1,1:1 (head 0 reads t-1); default: the "
        'table of released models')
    parser.add_argument(
        '--adapter-scale',
        type=float,
        default=None,
        help='official adapter_scale (training format; '
        'default: the table of released models)')
    parser.add_argument(
        '--heads',
        type=int,
        default=None,
        help='attention heads (default width // 64, as CLIP)')
    parser.add_argument(
        '--config',
        default=None,
        help='check the checkpoint against this config and '
        'load the result into its model')
    parser.add_argument(
        '--force', action='store_true', help='overwrite OUT if it exists')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_output(
            args.out,
            run_inputs(
                args.config, extra=[('the official checkpoint', args.src)]),
            force=args.force,
            option='OUT')
        offsets = parse_offsets(args.stdha) if args.stdha else None
        state, spec = read_official_checkpoint(args.src, heads=args.heads)
        released_settings(spec, offsets, args.adapter_scale)
        write_converted(
            state,
            spec,
            args.out,
            config=args.config,
            force=args.force,
            converted_by='tools/convert_official_checkpoint.py')
    except ValueError as error:  # OfficialCheckpointError, OutputPathError,
        # a bad --stdha: one message naming the file, key or value
        print(f'error: {error}', file=sys.stderr)
        return 1
    summary = spec.summary()
    print(f'read {args.src}: official ZeroI2V, {summary["format"]} format')
    for key in ('arch', 'num_frames', 'num_classes', 'num_adapters',
                'adapter_ratio', 'adapter_scale', 'scale_source',
                'stdha_offsets', 'stdha_source'):
        print(f'  {key}: {summary[key]}')
    for line in fitting_configs(spec, REPO, args.out):
        print(line)
    print(f'wrote {args.out}' +
          (f' (loads strictly into {args.config})' if args.config else ''))
    return 0


if __name__ == '__main__':
    run_tool(main)
