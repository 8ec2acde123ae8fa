"""Train a config: the MMEngine-standard entry point, usable without mim.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--no-validate] [--seed S] [--diff-rank-seed]
        [--deterministic] [--cfg-options k=v ...] [--launcher pytorch]

Safety (see README "Safe by default"): checkpoints load with
``weights_only=True`` plus MMEngine's own types; ``--resume`` refuses a
checkpoint that does not fit the config and falls back to the newest readable
checkpoint when ``last_checkpoint`` points to a bad file; checkpoints are
written atomically (``zeroi2v_atomic`` backend) with the mode a plain write
would give; a second run into a work dir a live run uses is refused.
"""
import argparse
import glob
import os
import os.path as osp
import re
from contextlib import ExitStack

from mmengine.config import Config, DictAction
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

import zeroi2v_mm  # noqa: F401  (registries and stack fixes, before building)
from zeroi2v_mm.compat import safe_checkpoint_loader
from zeroi2v_mm.utils.checkpoint import CheckpointError, load_checkpoint_file
from zeroi2v_mm.utils.cli import check_config_path, merge_cfg_options, run_tool
from zeroi2v_mm.utils.file_backend import BACKEND_NAME
from zeroi2v_mm.utils.io import (OutputPathError, check_output_dir,
                                 remove_stale_temporaries)
from zeroi2v_mm.utils.lock import WorkDirLock, WorkDirLockedError


def parse_args():
    parser = argparse.ArgumentParser(description='Train a zeroi2v_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--work-dir',
        help='where to save logs and models '
        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale lr by real total batch / base_batch_size')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='no validation during training (MMAction2)')
    parser.add_argument(
        '--seed',
        type=int,
        default=None,
        help='random seed (overrides randomness.seed)')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='a different seed on each rank')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='deterministic cuDNN / algorithms')
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


def merge_args(cfg: Config, args) -> Config:
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    # MMAction2's tools/train.py flags.
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.seed is not None or args.diff_rank_seed or args.deterministic:
        randomness = dict(cfg.get('randomness') or {})
        if args.seed is not None:
            randomness['seed'] = args.seed
        if args.diff_rank_seed:
            randomness['diff_rank_seed'] = True
        if args.deterministic:
            randomness['deterministic'] = True
        cfg.randomness = randomness
    return cfg


def use_atomic_checkpoints(cfg: Config) -> None:
    """Write this run's checkpoints atomically, unless the config chose a
    storage backend itself (petrel, ...)."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook and not hook.get('backend_args') and not hook.get(
            'file_client_args'):
        hook['backend_args'] = dict(backend=BACKEND_NAME)


def _readable(path: str):
    """None when ``path`` loads as a checkpoint, else why not."""
    if not osp.isfile(path):
        return 'does not exist'
    try:
        load_checkpoint_file(path, map_location='cpu')
    except CheckpointError as error:
        return f'is not usable: {error}'
    return None


def _step(path: str) -> int:
    match = re.search(r'(?:epoch|iter)_(\d+)\.pth$', path)
    return int(match.group(1)) if match else -1


def resolve_auto_resume(work_dir: str):
    """The checkpoint ``--resume`` (no path) continues from.

    MMEngine reads ``WORK_DIR/last_checkpoint`` and fails on (or trains from
    scratch past) a file it names that is gone or broken. Here such a file is
    reported and the newest readable ``epoch_N.pth`` / ``iter_N.pth`` is used
    instead, saying so. None when there is nothing to resume.
    """
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(last):
        return None
    with open(last) as file:
        target = file.read().strip()
    problem = ('is empty' if not target else None if _readable(target) is None
               else f'points to {target}, which {_readable(target)}')
    if problem is None:
        return target
    candidates = sorted(
        glob.glob(osp.join(work_dir, '*.pth')), key=_step, reverse=True)
    for candidate in (c for c in candidates if _step(c) >= 0):
        if osp.abspath(candidate) != osp.abspath(target) and \
                _readable(candidate) is None:
            print(
                f'WARNING: {last} {problem}; resuming from the newest '
                f'readable checkpoint instead: {candidate}',
                flush=True)
            return candidate
    raise SystemExit(f'cannot resume: {last} {problem}, and {work_dir} holds '
                     'no other readable epoch_N.pth / iter_N.pth. Start '
                     'without --resume, or pass --resume CHECKPOINT')


def check_resume_fits(runner: Runner, path: str) -> None:
    """Refuse to resume from a checkpoint that is not this model's: every
    tensor of the model must be there with the same shape (MMEngine would
    load what fits and continue on random weights)."""
    model = runner.model.module if is_model_wrapper(runner.model) else \
        runner.model
    own = model.state_dict()
    state = load_checkpoint_file(path, map_location='cpu')
    state = state.get('state_dict', state) if isinstance(state, dict) else {}
    state = {
        k[len('module.'):] if k.startswith('module.') else k: v
        for k, v in state.items()
    }
    mismatched = [
        f'{k}: checkpoint {tuple(state[k].shape)} vs model '
        f'{tuple(v.shape)}' for k, v in own.items() if k in state
        and tuple(getattr(state[k], 'shape', ())) != tuple(v.shape)
    ]
    missing = [k for k in own if k not in state]
    if mismatched or missing:
        details = '; '.join(mismatched[:3]) or f'missing keys {missing[:3]}'
        raise SystemExit(
            f'cannot resume from {path}: it does not fit the model of '
            f'{runner.cfg.filename} ({len(mismatched)} shape mismatches, '
            f'{len(missing)} missing keys; {details}). Resume with the '
            'config it was trained with')


def _is_rank_zero() -> bool:
    """Rank 0 of torchrun, slurm (srun) or MPI; one process takes the
    work-dir lock for the whole job."""
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        if name in os.environ:
            return os.environ[name] == '0'
    return True


def main():
    args = parse_args()
    check_config_path(args.config)
    cfg = merge_args(Config.fromfile(args.config), args)
    use_atomic_checkpoints(cfg)
    try:
        check_output_dir(cfg.work_dir, option='--work-dir')
    except OutputPathError as error:
        raise SystemExit(f'error: {error}') from None
    with ExitStack() as stack:
        if _is_rank_zero():
            try:
                stack.enter_context(WorkDirLock(cfg.work_dir))
            except WorkDirLockedError as error:
                raise SystemExit(f'error: {error}') from None
            remove_stale_temporaries(cfg.work_dir)
        stack.enter_context(safe_checkpoint_loader())
        if args.resume == 'auto':
            cfg.load_from = resolve_auto_resume(cfg.work_dir)
        try:
            runner = Runner.from_cfg(cfg)
            if cfg.resume and cfg.load_from:
                check_resume_fits(runner, cfg.load_from)
            runner.train()
        except CheckpointError as error:
            raise SystemExit(f'error: {error}') from None


if __name__ == '__main__':
    run_tool(main)
