"""Fixtures shared by every test folder: the tiny model settings, tiny data,
one thread. Plain helpers (no fixtures) are in tests/helpers/, which test
modules import (``from helpers import ...``); no test module imports this
file or another test module."""
import os

import pytest
import torch

import zeroi2v_mm  # noqa: F401  (compat fixes + registrations)
from mmaction.utils import register_all_modules

from helpers import TINY_ARCH, make_tiny_videos

# Builds in tests resolve types in MMAction2's scope, as the runner does.
register_all_modules(init_default_scope=True)

# Under pytest-xdist (tools/run_tests.sh runs one worker per core) each
# worker keeps to one thread: two workers of two threads on two cores would
# stall each other.
torch.set_num_threads(1 if os.environ.get('PYTEST_XDIST_WORKER'
                                          ) else min(2,
                                                     os.cpu_count() or 1))


@pytest.fixture
def tiny_arch():
    return dict(TINY_ARCH)


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    """A few 32 px, 8-frame synthetic videos per class (make_tiny_videos'
    defaults: 2 train and 1 val per class), made once per test module."""
    return make_tiny_videos(tmp_path_factory.mktemp('tiny_data'))


@pytest.fixture
def skip_random_init(monkeypatch):
    """Build full-size models without filling them: only shapes matter, and
    memory that is never written is not committed."""

    def keep(tensor, *args, **kwargs):
        return tensor

    for name in ('normal_', 'uniform_', 'trunc_normal_', 'kaiming_uniform_',
                 'kaiming_normal_', 'xavier_uniform_', 'xavier_normal_',
                 'constant_', 'zeros_', 'ones_'):
        monkeypatch.setattr(torch.nn.init, name, keep)


@pytest.fixture(scope='module')
def one_thread():
    """Tiny models run fastest on one thread, and on a busy machine a second
    thread that is not scheduled stalls every operation."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
