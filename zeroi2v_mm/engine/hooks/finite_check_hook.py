"""FiniteCheckHook: stop testing and validation on NaN / inf weights or
scores instead of reporting a number computed from them."""
import math
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook

from mmaction.registry import HOOKS


class NonFiniteError(ValueError):
    """Weights or scores that are NaN or infinite."""


def first_non_finite_parameter(model: torch.nn.Module) -> Optional[str]:
    """Name of the first parameter or buffer with a NaN / inf value."""
    model = getattr(model, 'module', model)  # DDP
    for name, tensor in list(model.named_parameters()) + list(
            model.named_buffers()):
        if tensor.is_floating_point() and not bool(
                torch.isfinite(tensor).all()):
            return name
    return None


def _scores(sample):
    for key in ('pred_score', 'pred_scores'):
        value = getattr(sample, key, None)
        if value is None and isinstance(sample, dict):
            value = sample.get(key)
        if value is not None:
            return value
    return None


@HOOKS.register_module()
class FiniteCheckHook(Hook):
    """Refuse to test or validate a model whose weights, or whose scores on
    a batch, are NaN or infinite: every score NaN still gives an accuracy
    (the arg-max of NaNs is class 0), silently wrong.

    The weights are checked once the checkpoint is loaded (``before_test``,
    ``before_val``); the recognizer's ``pred_score`` after every batch. The
    message names the checkpoint (``load_from``) and the first bad
    parameter or the batch.

    Registered by ``configs/_base_/default_runtime.py`` as
    ``default_hooks.finite_check``.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _source(runner) -> str:
        return str(
            getattr(runner, '_load_from', None) or runner.cfg.get('load_from')
            or 'the model')

    def _check_weights(self, runner, mode: str) -> None:
        name = first_non_finite_parameter(runner.model)
        if name is not None:
            raise NonFiniteError(
                f'{self._source(runner)}: parameter {name} holds NaN or '
                f'infinite values; {mode} stopped (its scores would be '
                'meaningless). Use a checkpoint saved before training '
                'diverged (e.g. an earlier epoch_N.pth)')

    def before_test(self, runner) -> None:
        self._check_weights(runner, 'testing')

    def before_val(self, runner) -> None:
        self._check_weights(runner, 'validation')

    def _check_outputs(self, runner, batch_idx: int,
                       outputs: Optional[Sequence], mode: str) -> None:
        for sample in outputs or ():
            scores = _scores(sample)
            if isinstance(
                    scores,
                    torch.Tensor) and scores.is_floating_point() and not bool(
                        torch.isfinite(scores).all()):
                raise NonFiniteError(
                    f'{self._source(runner)}: the model gave NaN or '
                    f'infinite scores on {mode} batch {batch_idx}; {mode} '
                    'stopped (the metric would be meaningless). Check the '
                    'checkpoint and the input data of that batch')
            if isinstance(scores, float) and not math.isfinite(scores):
                raise NonFiniteError(
                    f'{self._source(runner)}: non-finite score on {mode} '
                    f'batch {batch_idx}; {mode} stopped')

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs=None) -> None:
        self._check_outputs(runner, batch_idx, outputs, 'test')

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch=None,
                       outputs=None) -> None:
        self._check_outputs(runner, batch_idx, outputs, 'validation')
