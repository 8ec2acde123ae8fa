"""MergeAdaptersHook: write a verified, adapter-free checkpoint after training.

ZeroI2V's claim is zero extra inference cost: every linear adapter folds into
its neighbouring frozen linear (:mod:`zeroi2v_mm.reparam.folding`). This hook
makes the folded model a product of every training run and checks it every
time, so that a deployed model is known to predict what the trained one
predicts.
"""
import copy
import os.path as osp
from itertools import islice
from typing import Any, Dict, Optional

import torch
from mmengine.dist import (all_reduce, broadcast_object_list, get_world_size,
                           is_main_process)
from mmengine.hooks import Hook

from mmaction.registry import HOOKS

from ...models.peft import check_mergeable
from ...reparam import (build_plain_model, format_report, merge_and_verify,
                        merged_config_hint, report_path_of, save_merged)
from ...utils.complexity import view_shape

# Sums of :func:`zeroi2v_mm.reparam.verify_merge` that add up over processes.
_SUMMED_STATS = ('abs_diff_sum', 'num_logits', 'num_top1_agree', 'num_samples',
                 'num_batches')


def all_reduce_stats(stats: Dict[str, Any]) -> Dict[str, Any]:
    """Combine the verification of every process (max of the max difference,
    sums of the counts), so that all ranks take the same pass/fail decision
    and none is left waiting in a collective call."""
    if get_world_size() == 1:
        return stats
    stats = dict(stats)
    worst = torch.tensor([stats['max_abs_diff']], dtype=torch.float64)
    all_reduce(worst, op='max')
    sums = torch.tensor([float(stats[key]) for key in _SUMMED_STATS],
                        dtype=torch.float64)
    all_reduce(sums, op='sum')
    stats['max_abs_diff'] = float(worst[0])
    for key, value in zip(_SUMMED_STATS, sums.tolist()):
        stats[key] = value if key == 'abs_diff_sum' else int(round(value))
    return stats


def merge_report_scalars(report: Dict[str, Any]) -> Dict[str, float]:
    """The numbers of a merge report, flat: ``{'max_abs_diff': ...,
    'params.before': ..., 'gflops_per_view.after': ...}`` (booleans and
    text left out)."""
    scalars: Dict[str, float] = {}

    def visit(value, name):
        if isinstance(value, dict):
            for key, item in value.items():
                visit(item, f'{name}.{key}' if name else str(key))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            scalars[name] = float(value)

    visit(report, '')
    return scalars


@HOOKS.register_module()
class MergeAdaptersHook(Hook):
    """Merge the linear adapters after training; verify; save.

    After training (``after_train``) the model is copied (the run's model is
    untouched), the copy's adapters are folded into its linears, and both run
    in fp32 eval mode on ``verify_batches`` batches of the validation loader
    (the test loader if there is none). When the largest absolute logit
    difference is within ``tolerance``, rank 0 writes both files or neither,
    atomically, with :func:`zeroi2v_mm.reparam.save_merged` (the same writer
    as ``tools/merge_adapters.py``):

    - ``<work_dir>/<name>_merged.pth``: an MMEngine checkpoint (``meta``,
      ``state_dict``) that loads strictly into the same config with
      ``model.backbone.adapters=None`` (``configs/*_merged.py``);
    - ``<work_dir>/<name>_merged.json``: the report (parameters and GFLOPs
      per view before and after, of the plain backbone and the image ViT, max
      abs difference, top-1 agreement, samples, tolerance, checkpoint path).

    Otherwise it raises :class:`~zeroi2v_mm.reparam.MergeVerificationError`
    with the numbers and writes nothing (an existing merged file stays as it
    was). Every rank computes (the verification sums are all-reduced), only
    rank 0 writes, and the others wait for it.

    Args:
        verify_batches (int): Validation batches to compare on; 0 skips the
            comparison (not recommended).
        tolerance (float): Largest accepted max-abs logit difference (fp32).
        merge_on_best (bool): Also merge each new best checkpoint when the
            ``CheckpointHook`` saves one (``save_best``), to
            ``<name>_best_merged.pth`` (``<name>_best_<metric>_merged.pth``
            with several metrics).
        name (str, optional): File name stem; default the config file's
            base name, or ``'model'``.
        count_flops (bool): Count GFLOPs before/after (one traced forward of
            each model, on one view).
    """

    # After the CheckpointHook (VERY_LOW), so a best checkpoint saved in the
    # same after_val_epoch is already known.
    priority = 'LOWEST'

    def __init__(self,
                 verify_batches: int = 2,
                 tolerance: float = 1e-4,
                 merge_on_best: bool = False,
                 name: Optional[str] = None,
                 count_flops: bool = True):
        if not isinstance(verify_batches, int) or verify_batches < 0:
            raise ValueError(f'verify_batches={verify_batches!r} must be an '
                             'integer >= 0')
        if not tolerance >= 0:
            raise ValueError(f'tolerance={tolerance!r} must be >= 0')
        self.verify_batches = verify_batches
        self.tolerance = float(tolerance)
        self.merge_on_best = merge_on_best
        self.name = name
        self.count_flops = count_flops
        self._seen_best: Dict[str, Any] = {}
        self._training = False

    # ------------------------------------------------------------ callbacks
    def before_train(self, runner) -> None:
        # Fail now, not after the whole training run.
        check_mergeable(runner.cfg, 'MergeAdaptersHook')
        # Bests already known (resumed runs) are not merged again.
        self._seen_best = self._best_checkpoints(runner)
        self._training = True

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not (self.merge_on_best and self._training):
            return  # a stand-alone `runner.val()` saves no best checkpoint
        current = self._best_checkpoints(runner)
        for key, path in current.items():
            if path and self._seen_best.get(key) != path:
                tag = 'best' + key[len('best_ckpt'):]
                self.merge(runner, tag=tag, source=path)
        self._seen_best = current

    def after_train(self, runner) -> None:
        self._training = False
        self.merge(runner)

    # ---------------------------------------------------------------- work
    @staticmethod
    def _best_checkpoints(runner) -> Dict[str, Any]:
        """``{'best_ckpt' or 'best_ckpt_<metric>': path}`` as the
        CheckpointHook keeps them in the message hub."""
        info = runner.message_hub.runtime_info
        return {
            key: info[key]
            for key in info
            if key == 'best_ckpt' or key.startswith('best_ckpt_')
        }

    def _stem(self, runner) -> str:
        if self.name:
            return self.name
        filename = getattr(runner.cfg, 'filename', None)
        if filename:
            return osp.splitext(osp.basename(filename))[0]
        return 'model'

    def _batches(self, runner):
        """``(iterable of batches or None, where they come from)``."""
        if self.verify_batches == 0:
            return None, 'none (verify_batches=0)'
        for attribute, label in (('val_loop', 'val_dataloader'),
                                 ('test_loop', 'test_dataloader')):
            loop = getattr(runner, attribute)
            if loop is not None:
                return islice(loop.dataloader, self.verify_batches), label
        # No data configured: random clips still check the arithmetic.
        runner.logger.warning(
            'MergeAdaptersHook: no val or test dataloader; verifying the '
            'merge on random clips')
        shape = view_shape(runner.model)
        generator = torch.Generator().manual_seed(0)
        return [
            torch.randn((2, 1) + shape, generator=generator)
            for _ in range(self.verify_batches)
        ], 'random clips'

    def merge(self,
              runner,
              tag: Optional[str] = None,
              source: Optional[str] = None) -> Optional[str]:
        """Merge the runner's current model; verify; rank 0 writes.

        Args:
            tag: inserted into the file name (``'best'``), None for the
                final model.
            source: the checkpoint the current weights were saved to, for the
                report.

        Returns:
            str | None: the merged checkpoint path (None on other ranks).
        """
        stem = self._stem(runner)
        stem = f'{stem}_{tag}' if tag else stem
        ckpt_path = osp.join(runner.work_dir, f'{stem}_merged.pth')
        report_path = report_path_of(ckpt_path)
        batches, data = self._batches(runner)
        plain = build_plain_model(runner.cfg.model)
        merged, report = merge_and_verify(
            runner.model,
            batches,
            tolerance=self.tolerance,
            plain=plain,
            count_complexity=self.count_flops and is_main_process(),
            reduce_stats=all_reduce_stats)
        del plain
        report.update(
            data=data,
            checkpoint=osp.abspath(ckpt_path),
            source=source or 'end of training',
            epoch=runner.epoch,
            iter=runner.iter)
        error = None
        if is_main_process():
            try:
                self._write(runner, merged, report, ckpt_path, report_path)
            except Exception as exc:  # re-raised below, after the others know
                error = exc
        # Rank 0 tells the others whether it worked: they wait here instead
        # of running ahead, and fail with it instead of hanging later.
        status = [
            None if error is None else f'{type(error).__name__}: '
            f'{error}'
        ]
        broadcast_object_list(status, src=0)
        if error is not None:
            raise error
        if status[0] is not None:
            raise RuntimeError(f'MergeAdaptersHook: rank 0 failed to write '
                               f'{ckpt_path}: {status[0]}')
        if is_main_process():
            self._log_to_visualizer(runner, report, tag)
        return ckpt_path if is_main_process() else None

    @staticmethod
    def _log_to_visualizer(runner, report: Dict[str, Any],
                           tag: Optional[str]) -> None:
        """The report's numbers as scalars ``merge[_<tag>]/<name>`` through
        the runner's visualizer: every configured backend gets them
        (``vis_data/scalars.json`` of the LocalVisBackend, TensorBoard, W&B).
        """
        scalars = merge_report_scalars(report)
        visualizer = getattr(runner, 'visualizer', None)
        if scalars and visualizer is not None:
            prefix = f'merge_{tag}' if tag else 'merge'
            visualizer.add_scalars(
                {
                    f'{prefix}/{key}': value
                    for key, value in scalars.items()
                },
                step=runner.iter)

    def _write(self, runner, merged, report, ckpt_path, report_path) -> None:
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        dataset = getattr(
            getattr(runner, 'train_dataloader', None), 'dataset', None)
        if getattr(dataset, 'metainfo', None) is not None:
            meta['dataset_meta'] = copy.deepcopy(dataset.metainfo)
        # Each run (and each new best) replaces its own earlier merge.
        save_merged(
            merged,
            report,
            ckpt_path,
            report_path,
            cfg=runner.cfg,
            meta=meta,
            overwrite=True)
        runner.logger.info(
            f'MergeAdaptersHook: merged checkpoint {ckpt_path}\n'
            f'{format_report(report)}\n'
            f'report: {report_path}. Test it with '
            f'{merged_config_hint(runner.cfg)}; zeroi2v_mm.apis.init_model '
            'loads it with the training config as it is')
