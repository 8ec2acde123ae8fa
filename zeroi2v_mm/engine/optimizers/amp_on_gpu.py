"""``AmpOnGPUOptimWrapper``: mixed precision when a GPU is there, plain fp32
otherwise, from one config.

The released ZeroI2V configs train with AMP (fp16 autocast, dynamic loss
scaling). MMEngine's ``AmpOptimWrapper`` refuses to start without a GPU, so a
config that names it cannot run on a CPU. This registered builder picks
``AmpOptimWrapper`` when CUDA is available and ``OptimWrapper`` otherwise;
everything else in ``optim_wrapper`` (optimizer, paramwise_cfg, clip_grad,
accumulative_counts) is passed through unchanged.
"""
from typing import Optional, Union

import torch
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmaction.registry import OPTIM_WRAPPERS


def gpu_available() -> bool:
    """Whether AMP can run here (CUDA, as ``AmpOptimWrapper`` needs)."""
    return torch.cuda.is_available()


def amp_on_gpu_optim_wrapper(loss_scale: Union[str, float, dict] = 'dynamic',
                             dtype: Optional[Union[str, torch.dtype]] = None,
                             **kwargs) -> OptimWrapper:
    """Build ``AmpOptimWrapper(loss_scale, dtype, **kwargs)`` on a GPU
    machine, ``OptimWrapper(**kwargs)`` (fp32) on a CPU-only one.

    Args:
        loss_scale, dtype: ``AmpOptimWrapper``'s; unused without a GPU.
        **kwargs: ``optimizer``, ``accumulative_counts``, ``clip_grad`` as for
            ``OptimWrapper``.
    """
    if gpu_available():
        return AmpOptimWrapper(loss_scale=loss_scale, dtype=dtype, **kwargs)
    print_log(
        'AmpOnGPUOptimWrapper: no GPU, training in fp32 with '
        'OptimWrapper',
        logger='current')
    return OptimWrapper(**kwargs)


OPTIM_WRAPPERS.register_module(
    name='AmpOnGPUOptimWrapper', module=amp_on_gpu_optim_wrapper)
