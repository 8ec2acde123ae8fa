"""Temporal compression between ViT blocks: InTI and its pooling baselines
(``inti.py``), and their plumbing into a backbone (``build.py``)."""
from .build import build_compressors, frames_per_block
from .inti import ConvPooling, InTI, LinearPooling

__all__ = [
    'ConvPooling', 'InTI', 'LinearPooling', 'build_compressors',
    'frames_per_block'
]
