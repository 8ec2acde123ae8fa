from .amp_on_gpu import amp_on_gpu_optim_wrapper
from .trainable_params_constructor import \
    TrainableParamsOptimWrapperConstructor

__all__ = [
    'TrainableParamsOptimWrapperConstructor', 'amp_on_gpu_optim_wrapper'
]
