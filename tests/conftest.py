"""Shared fixtures: tiny model settings and checkpoints built on the fly."""
import os

import pytest
import torch

import zeroi2v_mm  # noqa: F401  (compat fixes + registrations)
from mmaction.utils import register_all_modules

# Builds in tests resolve types in MMAction2's scope, as the runner does.
register_all_modules(init_default_scope=True)

# Under pytest-xdist (tools/run_tests.sh runs one worker per core) each
# worker keeps to one thread: two workers of two threads on two cores would
# stall each other.
torch.set_num_threads(1 if os.environ.get('PYTEST_XDIST_WORKER'
                                          ) else min(2,
                                                     os.cpu_count() or 1))

TINY_ARCH = dict(width=64, layers=3, heads=4, patch_size=8, image_size=32)


@pytest.fixture
def tiny_arch():
    return dict(TINY_ARCH)


def randomize_adapters(model: torch.nn.Module, std: float = 0.05) -> None:
    """Give every adapter non-zero weights so that merging has work to do."""
    from zeroi2v_mm.models.layers import LinearAdapter
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LinearAdapter):
                for param in module.parameters():
                    param.copy_(
                        torch.randn(param.shape, generator=generator) * std)


@pytest.fixture(scope='module')
def one_thread():
    """Tiny models run fastest on one thread, and on a busy machine a second
    thread that is not scheduled stalls every operation."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
