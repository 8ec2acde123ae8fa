from .finite_check_hook import FiniteCheckHook, NonFiniteError
from .merge_adapters_hook import MergeAdaptersHook, merge_report_scalars
from .small_checkpoint_hook import SmallCheckpointHook
from .trainable_params_hook import TrainableParamsHook, trainable_params_table
from .work_dir_lock_hook import WorkDirLockHook

__all__ = [
    'FiniteCheckHook', 'NonFiniteError', 'MergeAdaptersHook',
    'SmallCheckpointHook', 'TrainableParamsHook', 'merge_report_scalars',
    'trainable_params_table', 'WorkDirLockHook'
]
