"""Fold the linear adapters of a ZeroI2V checkpoint into its linears, offline
(also the mergeable baselines: LoRA and temporal-heads-only updates).

    python tools/merge_adapters.py CONFIG CHECKPOINT --out MERGED.pth
        [--verify N] [--tolerance 1e-4] [--force] [--device cpu]
        [--cfg-options k=v ...]

CONFIG is the config the checkpoint was trained with (adapters on). The tool
builds that model, loads CHECKPOINT strictly, merges a copy, compares merged
and unmerged logits (fp32) on N batches of the config's validation data
(``--verify 0`` skips it), and writes MERGED.pth and MERGED.json (the report:
parameters and GFLOPs per view before and after, max abs difference, top-1
agreement): both or neither, atomically (a full disk leaves no half result
and says "no space left" with the path). It exits non-zero and writes nothing
when the difference exceeds the tolerance, never overwrites an existing file
without ``--force``, and never (not even with ``--force``) writes over its
input: paths are compared as real files (symlinks, hard links, ``..``), and an
``--out`` whose report path would be the checkpoint itself (``--out X.json``)
is refused. CHECKPOINT loads with ``weights_only=True`` (plus MMEngine's own
types); see ``zeroi2v_mm/utils/checkpoint.py`` for the opt-in for trusted
files; a small checkpoint's frozen weights come from the image model it
records (fingerprint-checked). MERGED.pth holds every tensor and loads
strictly into the same config with ``model.backbone.adapters=None`` (the
``*_merged.py`` config beside it, printed at the end), or into the training
config itself with ``zeroi2v_mm.apis.init_model``::

    CONFIG=configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb_merged.py
    mim test mmaction $CONFIG --checkpoint MERGED.pth
"""
import argparse
import errno
import math
import os.path as osp
import sys

import mmengine
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import zeroi2v_mm  # noqa: F401  (registries and stack fixes, before building)
from mmaction.registry import MODELS
from zeroi2v_mm.apis import is_merged_checkpoint, load_weights, read_checkpoint
from zeroi2v_mm.compat import safe_checkpoint_loader
from zeroi2v_mm.models.peft import check_mergeable, is_mergeable
from zeroi2v_mm.models.utils.weights import ADAPTER_MARKERS
from zeroi2v_mm.reparam import (MergeVerificationError, build_plain_model,
                                format_report, merge_and_verify,
                                merged_config_hint, report_path_of,
                                save_merged)
from zeroi2v_mm.utils.checkpoint import CheckpointError
from zeroi2v_mm.utils.cli import (check_checkpoint_path, check_device,
                                  merge_cfg_options, run_tool)
from zeroi2v_mm.utils.io import (OutputPathError, check_output, run_inputs,
                                 same_file)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Merge the linear adapters of a ZeroI2V checkpoint into '
        'its linears (zero extra inference cost) and verify the result')
    parser.add_argument(
        'config',
        help='the config the checkpoint was '
        'trained with (adapters on)')
    parser.add_argument('checkpoint', help='an unmerged checkpoint')
    parser.add_argument(
        '--out',
        required=True,
        help='merged checkpoint to write (.pth); the report '
        'goes next to it (.json)')
    parser.add_argument(
        '--verify',
        type=int,
        default=2,
        metavar='N',
        help='validation batches to compare merged and '
        'unmerged logits on (0 skips; default 2)')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='largest accepted max-abs logit difference '
        '(fp32; default 1e-4)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='overwrite an existing --out and its report')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu or cuda (default: cuda when available)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def check_outputs(checkpoint: str,
                  out: str,
                  report_path: str,
                  force: bool,
                  config: str = None,
                  cfg_options: dict = None) -> None:
    """Refuse outputs that would destroy the input or each other."""
    if same_file(out, report_path):
        raise SystemExit(
            f'--out {out}: its report path ({report_path}, the --out name '
            'with .json) would be the checkpoint itself; give --out a .pth '
            'name')
    inputs = run_inputs(config, checkpoint, cfg_options)
    try:
        check_output(out, inputs, force=force, option='--out')
        check_output(
            report_path, inputs, force=force, option='the report of --out')
    except OutputPathError as error:
        raise SystemExit(f'error: {error}') from None


def build_batches(cfg: Config, num_batches: int):
    """The first ``num_batches`` batches of the validation loader (the test
    loader when there is no validation one)."""
    for key in ('val_dataloader', 'test_dataloader'):
        loader_cfg = cfg.get(key)
        if loader_cfg:
            break
    else:
        raise SystemExit(f'{cfg.filename} has no val_dataloader or '
                         'test_dataloader to verify on; pass --verify 0 to '
                         'merge without checking on data (not recommended)')
    loader_cfg = mmengine.ConfigDict(loader_cfg)
    # Only a couple of batches are read once: no long-lived workers.
    loader_cfg.persistent_workers = False
    try:
        loader = Runner.build_dataloader(loader_cfg)
    except FileNotFoundError as error:
        raise SystemExit(
            f'cannot read the {key} data of {cfg.filename} to verify the '
            f'merge: {error}\nPoint {key}.dataset at your data with '
            '--cfg-options, or pass --verify 0 to merge without checking '
            'on data (not recommended).') from None
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == num_batches:
            break
    return batches, key


def main(argv=None) -> int:
    args = parse_args(argv)
    out = osp.abspath(args.out)
    report_path = report_path_of(out)
    if args.verify < 0:
        raise SystemExit(f'--verify {args.verify}: must be >= 0')
    if not math.isfinite(args.tolerance) or args.tolerance < 0:
        raise SystemExit(f'--tolerance {args.tolerance}: must be a number '
                         '>= 0 (largest accepted max-abs logit difference)')
    check_checkpoint_path(args.checkpoint)
    try:
        args.device = check_device(args.device)
    except ValueError as error:
        raise SystemExit(f'error: {error}') from None
    check_outputs(args.checkpoint, out, report_path, args.force, args.config,
                  args.cfg_options)
    with safe_checkpoint_loader():
        return merge(args, out, report_path)


def merge(args, out: str, report_path: str) -> int:

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    backbone = cfg.model.get('backbone', {})
    try:
        check_mergeable(backbone, args.config)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if not is_mergeable(backbone):
        raise SystemExit(
            f'{args.config} builds model.backbone with adapters=None: pass '
            'the config the checkpoint was trained with (adapters, LoRA or '
            'temporal-head updates on), not its merged variant')
    try:
        checkpoint = read_checkpoint(args.checkpoint)
    except CheckpointError as error:
        raise SystemExit(f'error: {error}') from None
    if is_merged_checkpoint(checkpoint, cfg.model):
        raise SystemExit(
            f'{args.checkpoint} has no linear adapters (keys with '
            f'{" or ".join(ADAPTER_MARKERS)}): it is already merged or was '
            'trained without adapters; nothing to merge')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    # Every weight comes from the checkpoint (a small one's frozen weights
    # from the image model it records): the model is built, not initialised.
    model = MODELS.build(cfg.model)
    try:
        # Strict: a checkpoint of another model must not be merged
        # half-loaded.
        load_weights(model, checkpoint, args.checkpoint)
    except CheckpointError as error:
        raise SystemExit(f'error: {error}') from None
    model.to(device).eval()

    batches, data = None, 'none (--verify 0)'
    if args.verify:
        batches, data = build_batches(cfg, args.verify)
    plain = build_plain_model(cfg.model)
    try:
        merged, report = merge_and_verify(
            model, batches, tolerance=args.tolerance, plain=plain)
    except MergeVerificationError as error:
        print(f'merge refused, nothing written: {error}', file=sys.stderr)
        return 1
    report.update(
        data=data, checkpoint=out, source=osp.abspath(args.checkpoint))

    try:
        # The same writer as MergeAdaptersHook: both files or neither,
        # atomically; the source checkpoint's meta is kept.
        save_merged(
            merged,
            report,
            out,
            report_path,
            cfg=cfg,
            meta=checkpoint.get('meta'),
            overwrite=args.force)
    except FileExistsError as error:  # appeared while merging
        raise SystemExit(f'error: {error}; pass --force to overwrite it') \
            from None
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise SystemExit(f'error: {error.strerror}') from None
        raise SystemExit(f'error: could not write {out} and {report_path}: '
                         f'{error}; nothing was written') from None
    print(format_report(report))
    print(f'merged checkpoint: {out}\nreport: {report_path}')
    print(f'test it: mim test mmaction {merged_config_hint(cfg)} '
          f'--checkpoint {out}')
    if not args.verify:
        print('WARNING: not verified on data (--verify 0)')
    return 0


if __name__ == '__main__':
    run_tool(main)
