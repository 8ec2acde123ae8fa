from .hooks import MergeAdaptersHook, TrainableParamsHook

__all__ = ['MergeAdaptersHook', 'TrainableParamsHook']
