from .hooks import MergeAdaptersHook, TrainableParamsHook
from .optim_wrapper import amp_on_gpu_optim_wrapper

__all__ = ['MergeAdaptersHook', 'TrainableParamsHook',
           'amp_on_gpu_optim_wrapper']
