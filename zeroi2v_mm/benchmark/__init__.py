"""Efficiency benchmark of configs against the plain image ViT of the same
size: parameters, FLOPs, latency, throughput, training memory and step time,
STDHA attention, torch.compile and frame compression (``tools/benchmark.py``
is its command line; its docstring says what each figure is).

Layout: :mod:`.settings` (what to measure), :mod:`.timing` (interleaved
rounds, summaries, paired ratios), :mod:`.models` (the compared networks),
:mod:`.runners` (inference, throughput, training step and memory, attention),
:mod:`.suite` (a run over several configs: :func:`benchmark`) and
:mod:`.report` (Markdown, plot).
"""
from .report import markdown, parse_accuracy, plot_accuracy, write_report
from .settings import BenchmarkSettings
from .suite import benchmark
from .timing import Timing, summarize

__all__ = [
    'BenchmarkSettings', 'Timing', 'benchmark', 'markdown', 'parse_accuracy',
    'plot_accuracy', 'summarize', 'write_report'
]
