from .hooks import MergeAdaptersHook, TrainableParamsHook
from .optim_wrapper import amp_on_gpu_optim_wrapper
from .small_checkpoint_hook import SmallCheckpointHook

__all__ = ['MergeAdaptersHook', 'SmallCheckpointHook', 'TrainableParamsHook',
           'amp_on_gpu_optim_wrapper']
