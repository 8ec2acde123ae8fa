from .hooks import MergeAdaptersHook, SmallCheckpointHook, TrainableParamsHook
from .optimizers import (TrainableParamsOptimWrapperConstructor,
                         amp_on_gpu_optim_wrapper)

__all__ = [
    'MergeAdaptersHook', 'SmallCheckpointHook', 'TrainableParamsHook',
    'TrainableParamsOptimWrapperConstructor', 'amp_on_gpu_optim_wrapper'
]
