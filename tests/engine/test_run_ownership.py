"""Issue 26, part 4: the work-dir lock and checkpoint ownership live in the
runner (WorkDirLockHook of the default runtime), so `mim train` gets them:
a second `mim train` into a live run's work dir is refused; a run resumed
from another work dir leaves that run's files (its best checkpoint
included) as they were."""
import glob
import os
import os.path as osp
import signal
import subprocess
import time

import pytest
import torch

from zeroi2v_mm.utils.lock import LOCK_NAME

from helpers import (REPO, VENV_BIN, run_cli, run_status, sha256_of,
                     tiny_demo_overrides)

CONFIG = 'configs/demo/zeroi2v_synthetic.py'
ENV = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ['PATH'])

sha = sha256_of


def mim_train(work_dir, options, *extra):
    return [
        osp.join(VENV_BIN, 'mim'), 'train', 'mmaction', CONFIG, '--work-dir',
        str(work_dir), *extra, '--cfg-options', *options
    ]


@pytest.mark.slow
def test_second_mim_train_into_a_live_work_dir_is_refused(tiny_data, tmp_path):
    work = tmp_path / 'work'
    options = tiny_demo_overrides(tiny_data, str(work), epochs=1000)
    first = subprocess.Popen(
        mim_train(work, options + ['custom_hooks=[]']),
        cwd=REPO,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True)  # mim and its training child: one group
    try:
        lock = work / LOCK_NAME
        deadline = time.time() + 240
        while not lock.exists() and time.time() < deadline:
            assert first.poll() is None, 'the first run ended early'
            time.sleep(1)
        assert lock.exists(), 'the first run never took the lock'
        # Paused (alive, holding the lock, using no CPU) while the second
        # run starts: the test does not wait on two trainings at once.
        os.killpg(first.pid, signal.SIGSTOP)
        code, text = run_status(*mim_train(work, options +
                                           ['custom_hooks=[]']))
        assert code != 0
        assert 'is in use by another run' in text
        assert first.poll() is None  # the first run is untouched
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


@pytest.mark.slow
def test_resume_from_another_work_dir_leaves_its_best_checkpoint(
        tiny_data, tmp_path):
    run_a, run_b = tmp_path / 'a', tmp_path / 'b'
    options = tiny_demo_overrides(
        tiny_data, str(run_a), epochs=1) + [
            'custom_hooks=[]', 'default_hooks.checkpoint.save_best=acc/top1',
            'default_hooks.checkpoint.rule=greater'
        ]
    run_cli(mim_train(run_a, options), timeout=600)
    best = glob.glob(str(run_a / 'best_*.pth'))
    assert best, os.listdir(run_a)
    # Resume from a copy of epoch 1 whose best score any run beats: B then
    # saves a best checkpoint at its first validation, the moment MMEngine
    # deletes "the previous best" (A's file) without the hook.
    checkpoint = torch.load(
        run_a / 'epoch_1.pth', map_location='cpu', weights_only=False)
    checkpoint['message_hub']['runtime_info']['best_score'] = -1.0
    torch.save(checkpoint, run_a / 'resume_here.pth')
    before = {p: sha(p) for p in glob.glob(str(run_a / '*.pth'))}
    options = tiny_demo_overrides(
        tiny_data, str(run_b), epochs=2) + [
            'custom_hooks=[]', 'default_hooks.checkpoint.save_best=acc/top1',
            'default_hooks.checkpoint.rule=greater'
        ]
    text = run_cli(
        mim_train(run_b, options, '--resume', str(run_a / 'resume_here.pth')),
        timeout=600)
    assert glob.glob(str(run_b / 'best_*.pth')), os.listdir(run_b)
    after = {p: sha(p) for p in glob.glob(str(run_a / '*.pth'))}
    assert after == before
    assert 'lies outside this work dir' in text
