"""The parts of zeroi2v_mm.benchmark under tools/benchmark.py: the CPU
memory measure, the order of timing rounds, the network signature that
times identical networks once, the settings' defaults and checks, and the
timing summary."""
import pytest
import torch
import torch.nn as nn

from zeroi2v_mm.benchmark import BenchmarkSettings
from zeroi2v_mm.benchmark.models import signature
from zeroi2v_mm.benchmark.runners import cpu_step_allocation_peak
from zeroi2v_mm.benchmark.timing import Timing, round_order

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')


def test_cpu_memory_measure_sees_tensor_allocations():

    def step():
        first = torch.ones(1 << 20)  # 4 MiB
        second = torch.ones(2 << 20)  # 8 MiB while the first lives
        del first
        third = torch.ones(1 << 20)
        del second, third

    assert cpu_step_allocation_peak(step) == 12 * 2**20


def test_round_order_rotates_and_reverses():
    names = ['a', 'b', 'c']
    orders = [round_order(names, r) for r in range(6)]
    assert orders[0] == ['a', 'b', 'c'] and orders[1] == ['a', 'c', 'b']
    # every model runs first in some round
    assert {order[0] for order in orders} == set(names)


def test_signature_treats_an_adapter_free_adapted_linear_as_linear():
    from zeroi2v_mm.models.layers import AdaptedLinear
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    same = nn.Sequential(AdaptedLinear(4, 3), nn.ReLU())
    adapted = nn.Sequential(AdaptedLinear(4, 3, input_adapters=1), nn.ReLU())
    wider = nn.Sequential(nn.Linear(4, 5), nn.ReLU())
    assert signature(plain) == signature(same)
    assert signature(plain) != signature(adapted)
    assert signature(plain) != signature(wider)


def test_settings_defaults_and_validation():
    cpu = BenchmarkSettings.for_device(['a.py'], 'cpu')
    assert (cpu.repeats, cpu.train_batch, cpu.max_batch) == (5, 1, 4)
    cuda = BenchmarkSettings.for_device(['a.py'], 'cuda', repeats=7)
    assert (cuda.repeats, cuda.train_batch, cuda.max_batch) == (7, 8, 1024)
    quick = BenchmarkSettings.for_device(['a.py'], 'cuda', quick=True)
    assert (quick.repeats, quick.max_batch) == (2, 2)
    with pytest.raises(ValueError, match='train_batch must be >= 1, not 0'):
        BenchmarkSettings.for_device(['a.py'], 'cpu', train_batch=0)
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        BenchmarkSettings(configs=['a.py'], device='tpu').validate()


def test_timing_summary():
    timing = Timing.of([0.004, 0.001, 0.002, 0.003])
    assert timing.median == pytest.approx(2.5) and timing.n == 4
    assert (timing.min, timing.max) == (pytest.approx(1), pytest.approx(4))
    assert timing.iqr == pytest.approx(timing.q3 - timing.q1)
    assert timing.iqr > 0
    with pytest.raises(ValueError, match='no timings'):
        Timing.of([])
