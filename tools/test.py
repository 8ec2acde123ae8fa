"""Test a checkpoint: the MMEngine-standard entry point, usable without mim.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump PKL]
        [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import zeroi2v_mm  # noqa: F401  (registries and stack fixes, before building)
from zeroi2v_mm.compat import safe_checkpoint_loader
from zeroi2v_mm.utils.checkpoint import CheckpointError, load_checkpoint_file
from zeroi2v_mm.utils.cli import (check_checkpoint_path, check_config_path,
                                  merge_cfg_options, run_tool)
from zeroi2v_mm.utils.io import OutputPathError, check_output, run_inputs


def parse_args():
    parser = argparse.ArgumentParser(description='Test a zeroi2v_mm model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save the test logs')
    parser.add_argument('--dump', help='dump predictions to this .pkl file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    parser.add_argument(
        '--launcher',
        default='none',
        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    check_config_path(args.config)
    check_checkpoint_path(args.checkpoint)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'error: --dump {args.dump}: must end with .pkl')
        # Predictions are regenerated on every run: an existing file is
        # replaced (atomically), an input never.
        try:
            check_output(
                args.dump,
                run_inputs(args.config, args.checkpoint, args.cfg_options),
                force=True,
                option='--dump')
        except OutputPathError as error:
            raise SystemExit(f'error: {error}') from None
        dumper = dict(type='AtomicDumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = (list(evaluator) if isinstance(evaluator, list)
                              else [evaluator]) + [dumper]
    with safe_checkpoint_loader():
        try:
            # Read it once before anything is built: a corrupt or unsafe file
            # is named at once, not after the data are indexed.
            load_checkpoint_file(args.checkpoint, map_location='cpu')
            # The model refuses a checkpoint that does not fit it
            # (ZeroI2VViT / ZeroI2VHead._load_from_state_dict).
            Runner.from_cfg(cfg).test()
        except CheckpointError as error:
            raise SystemExit(f'error: {error}') from None


if __name__ == '__main__':
    run_tool(main)
