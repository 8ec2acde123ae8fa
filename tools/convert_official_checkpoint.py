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
they come from the table of released models (``RELEASED`` in
``zeroi2v_mm/models/utils/official_checkpoint.py``, keyed by arch, frames and
classes), or from ``--stdha`` / ``--adapter-scale``. ``--config`` also checks
that config against the checkpoint (head order, scale, adapters, ...) and
loads the result into it. Never overwrites OUT without ``--force``; writes
nothing when anything fails.
"""
import argparse
import os.path as osp
import sys

import zeroi2v_mm  # noqa: F401  (registries and stack fixes)
from zeroi2v_mm.models.utils.official_checkpoint import (
    OfficialCheckpointError, convert_official_checkpoint, fitting_configs,
    parse_offsets)
from zeroi2v_mm.utils.cli import run_tool
from zeroi2v_mm.utils.io import OutputPathError, check_output, run_inputs

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


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
        spec = convert_official_checkpoint(
            args.src,
            args.out,
            heads=args.heads,
            offsets=offsets,
            adapter_scale=args.adapter_scale,
            config=args.config,
            force=args.force)
    except (OfficialCheckpointError, FileExistsError, ValueError,
            OutputPathError) as error:
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
