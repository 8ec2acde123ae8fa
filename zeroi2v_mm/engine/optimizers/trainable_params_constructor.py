"""``TrainableParamsOptimWrapperConstructor``: the optimizer gets only the
parameters that train, and the log says so in one line.

A ZeroI2V model freezes the whole CLIP ViT (86M parameters of ViT-B/16, about
200 tensors); MMEngine's ``DefaultOptimWrapperConstructor`` leaves each frozen
tensor out of the optimizer too, but logs one warning per tensor ("... is
skipped since its requires_grad=False"), which buries the start of every
training log. This constructor builds exactly the same parameter groups
(``paramwise_cfg``: ``custom_keys``, ``lr_mult``, ``decay_mult``,
``norm_decay_mult``, ... unchanged: the parent's code does the work), drops
only those warnings while it runs, and logs one summary line instead. Without
a ``paramwise_cfg`` the optimizer gets the trainable parameters as one group
(the parent would hand it every parameter, frozen ones included).
"""
import inspect
import logging
from contextlib import contextmanager
from typing import Iterator, List

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS

# The end of the message DefaultOptimWrapperConstructor.add_params logs for
# each frozen parameter (mmengine 0.10).
FROZEN_MESSAGE = 'is skipped since its requires_grad=False'


class _DropFrozenWarnings(logging.Filter):
    """Drops the per-parameter "skipped, requires_grad=False" records and
    counts them."""

    def __init__(self):
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.getMessage()).endswith(FROZEN_MESSAGE):
            self.dropped += 1
            return False
        return True


@contextmanager
def _quiet_frozen_warnings() -> Iterator[_DropFrozenWarnings]:
    """While the block runs, the current MMLogger drops the frozen-parameter
    warnings (only those; only this logger; removed afterwards)."""
    logger = MMLogger.get_current_instance()
    drop = _DropFrozenWarnings()
    logger.addFilter(drop)
    try:
        yield drop
    finally:
        logger.removeFilter(drop)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableParamsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` that hands the optimizer only
    parameters with ``requires_grad=True``, without a warning per frozen one.

    Used by ``configs/_base_/schedules/*.py``
    (``optim_wrapper.constructor``); takes the same ``optim_wrapper_cfg`` and
    ``paramwise_cfg`` as MMEngine's constructor, and the parameter groups are
    the ones it builds (same order, same ``lr`` / ``weight_decay``).
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):  # DDP
            model = model.module
        trainable = [p for p in model.parameters() if p.requires_grad]
        frozen = [p for p in model.parameters() if not p.requires_grad]
        if not trainable:
            raise ValueError(
                f'{type(model).__name__} has no parameter with '
                'requires_grad=True: nothing to optimise (check the '
                "config's frozen parts)")
        if self.paramwise_cfg:
            with _quiet_frozen_warnings():
                optim_wrapper = super().__call__(model)
        else:
            optim_wrapper = self._build(trainable)
        print_log(
            f'{type(self).__name__}: {sum(p.numel() for p in trainable):,} '
            f'parameters ({len(trainable)} tensors) in the optimizer; '
            f'{sum(p.numel() for p in frozen):,} frozen ({len(frozen)} '
            'tensors) left out',
            logger='current')
        return optim_wrapper

    def _build(self, params: List[nn.Parameter]) -> OptimWrapper:
        """The optimizer over ``params`` (one group) in its wrapper, as the
        parent does without ``paramwise_cfg``."""
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cfg['type'])
        # Some optimizers name their first argument differently (the parent
        # does the same lookup).
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(
            wrapper_cfg, default_args=dict(optimizer=optimizer))
