from .hooks import MergeAdaptersHook
from .optim_wrapper import amp_on_gpu_optim_wrapper

__all__ = ['MergeAdaptersHook', 'amp_on_gpu_optim_wrapper']
