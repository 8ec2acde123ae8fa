from .hooks import MergeAdaptersHook, TrainableParamsHook
from .optimizers import (TrainableParamsOptimWrapperConstructor,
                         amp_on_gpu_optim_wrapper)

__all__ = [
    'MergeAdaptersHook', 'TrainableParamsHook',
    'TrainableParamsOptimWrapperConstructor', 'amp_on_gpu_optim_wrapper'
]
