from ...reparam import merged_config
from .merge_adapters_hook import MergeAdaptersHook, merge_report_scalars
from .small_checkpoint_hook import SmallCheckpointHook
from .trainable_params_hook import TrainableParamsHook, trainable_params_table

__all__ = [
    'MergeAdaptersHook', 'SmallCheckpointHook', 'TrainableParamsHook',
    'merge_report_scalars', 'merged_config', 'trainable_params_table'
]
