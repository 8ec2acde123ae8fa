from .hooks import MergeAdaptersHook

__all__ = ['MergeAdaptersHook']
