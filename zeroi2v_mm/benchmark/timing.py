"""Timing primitives of the benchmark: interleaved rounds, robust
summaries and paired ratios (models timed in the same rounds), inputs and
device helpers. Follows timm's ``benchmark.py``: warm up, synchronise around
each timed call, report medians."""
import dataclasses
import statistics
import time
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch


@dataclasses.dataclass(frozen=True)
class Timing:
    """Median and spread of repeated timings, in milliseconds."""
    median: float
    q1: float
    q3: float
    iqr: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> 'Timing':
        ms = sorted(1e3 * s for s in seconds)
        if not ms:
            raise ValueError('no timings to summarise')
        if len(ms) >= 2:
            q1, _, q3 = statistics.quantiles(ms, n=4, method='inclusive')
        else:
            q1 = q3 = ms[0]
        return cls(
            median=statistics.median(ms),
            q1=q1,
            q3=q3,
            iqr=q3 - q1,
            min=ms[0],
            max=ms[-1],
            n=len(ms))

    def as_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def summarize(seconds: Sequence[float]) -> Dict[str, Any]:
    """:class:`Timing` of ``seconds`` as the dict the JSON report holds."""
    return Timing.of(seconds).as_dict()


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def autocast(device: torch.device):
    if device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.float16)
    return nullcontext()


def round_order(names: List[str], round_index: int) -> List[str]:
    """``names`` rotated by ``round_index`` and reversed every other round:
    over the rounds each model runs early, late, before and after each
    other model."""
    shift = round_index % len(names)
    order = names[shift:] + names[:shift]
    return order[::-1] if round_index % 2 else order


def interleaved_timings(functions: Dict[str, Callable[[], Any]],
                        device: torch.device,
                        warmup: int,
                        repeats: int,
                        on_round: Optional[Callable[[int], None]] = None
                        ) -> Dict[str, List[float]]:
    """Run every function ``warmup`` times, then ``repeats`` timed rounds in
    which each runs once (:func:`round_order`). Returns seconds per run."""
    names = list(functions)
    for round_index in range(warmup):
        for name in round_order(names, round_index):
            functions[name]()
    synchronize(device)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        for name in round_order(names, round_index):
            synchronize(device)
            start = time.perf_counter()
            functions[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
        if on_round is not None:
            on_round(round_index)
    return times


def paired_summary(times: Dict[str, List[float]], name: str,
                   reference: str) -> Dict[str, Any]:
    """Summaries of ``name`` and ``reference`` (timed in the same rounds)
    and the ratios: of the medians (``ratio``), the median of the per-round
    ratios (``paired_ratio``, robust to load drifting between rounds) and of
    the fastest runs (``min_ratio``)."""
    ours, ref = summarize(times[name]), summarize(times[reference])
    rounds = [a / b for a, b in zip(times[name], times[reference])]
    return dict(
        ms=ours,
        plain_ms=ref,
        ratio=ours['median'] / ref['median'],
        paired_ratio=statistics.median(rounds),
        min_ratio=ours['min'] / ref['min'])


def is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or \
        'out of memory' in str(error)


def make_clips(batch: int, views: int, shape: tuple,
               device: torch.device) -> torch.Tensor:
    generator = torch.Generator(device=device).manual_seed(0)
    return torch.randn(
        (batch, views) + tuple(shape), generator=generator, device=device)
