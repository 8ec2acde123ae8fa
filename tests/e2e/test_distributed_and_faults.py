"""Scale-out and faults: CPU DDP (gloo) equals one process, a SIGKILLed run
resumes to the same result, writes are atomic, dist_train.sh / dist_test.sh
print their usage, gradient checkpointing changes no gradient. Bad videos
and labels: tests/datasets/test_checked_video_dataset.py."""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import time

import pytest
import torch

from zeroi2v_mm.utils import io as atomic_io

from helpers import REPO, VENV_BIN, run_cli, tiny_demo_overrides

CONFIG = 'configs/demo/zeroi2v_synthetic.py'


def _deterministic(options):
    """Same samples in the same order in every run: no shuffling, centred
    clips, one worker per process."""
    return options + [
        'train_dataloader.sampler.shuffle=False',
        'train_dataloader.dataset.pipeline.1.test_mode=True',
        'custom_hooks=[]',
    ]


def _weights(path):
    return torch.load(
        path, map_location='cpu', weights_only=False)['state_dict']


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tiny_data, tmp_path):
    single, ddp = str(tmp_path / 'single'), str(tmp_path / 'ddp')
    options = _deterministic(tiny_demo_overrides(tiny_data, single))
    run_cli([
        'python', 'tools/train.py', CONFIG, '--work-dir', single,
        '--cfg-options', *options, 'train_dataloader.batch_size=4'
    ])
    options = _deterministic(tiny_demo_overrides(tiny_data, ddp))
    log = run_cli([
        'bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', ddp,
        '--cfg-options', *options, 'train_dataloader.batch_size=2'
    ])
    assert 'Distributed training: True' in log
    one, two = (_weights(osp.join(d, 'epoch_1.pth')) for d in (single, ddp))
    assert one.keys() == two.keys()
    # Same total batch of 4: DDP averages the two halves' gradients. Only the
    # order of float reductions differs; Adam amplifies that a little.
    for key in one:
        assert torch.allclose(one[key], two[key], atol=1e-5), key
    trained = [k for k in one if 'adapters' in k and k.endswith('up.weight')]
    assert trained and any(one[k].abs().max() > 0 for k in trained)


def _train_command(work_dir, data, epochs, resume=False):
    options = tiny_demo_overrides(data, work_dir, epochs=epochs)
    options += [
        'train_dataloader.batch_size=2', 'default_hooks.logger.interval=2',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'train_cfg.val_interval=3', 'custom_hooks=[]'
    ]
    return ([
        osp.join(VENV_BIN, 'python'), 'tools/train.py', CONFIG, '--work-dir',
        work_dir
    ] + (['--resume'] if resume else []) + ['--cfg-options'] + options)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(
        tiny_data, tmp_path):
    reference, crashed = str(tmp_path / 'ref'), str(tmp_path / 'crash')
    reference_log = run_cli(_train_command(reference, tiny_data, epochs=3))

    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ['PATH'])
    process = subprocess.Popen(
        _train_command(crashed, tiny_data, epochs=3),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)
    deadline = time.time() + 240
    seen = ''
    for line in process.stdout:  # kill once epoch 2 is under way
        seen += line
        if 'Epoch(train) [2][' in line:
            process.send_signal(signal.SIGKILL)
            break
        assert time.time() < deadline, seen[-3000:]
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, seen[-3000:]
    assert osp.isfile(osp.join(crashed, 'epoch_1.pth'))
    assert not osp.exists(osp.join(crashed, 'epoch_2.pth'))
    assert not glob.glob(osp.join(crashed, '.*.tmp'))  # no half-written file

    log = run_cli(_train_command(crashed, tiny_data, epochs=3, resume=True))
    assert 'resumed epoch: 1' in log
    final_ref = _weights(osp.join(reference, 'epoch_3.pth'))
    final_crash = _weights(osp.join(crashed, 'epoch_3.pth'))
    for key in final_ref:
        assert torch.equal(final_ref[key], final_crash[key]), key
    metric = re.compile(r'Epoch\(val\) \[3\].*?acc/top1: ([0-9.]+)')
    assert metric.findall(log) == metric.findall(reference_log) != []


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'good checkpoint')

    def crash(tmp_path_):
        with open(tmp_path_, 'wb') as f:
            f.write(b'half')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_io.atomic_write(str(target), crash)
    assert target.read_bytes() == b'good checkpoint'
    assert os.listdir(tmp_path) == ['epoch_1.pth']


def test_train_tool_checkpoints_go_through_the_atomic_backend(tmp_path):
    """tools/train.py opts its runs into the 'zeroi2v_atomic' backend (the
    run itself is covered by the SIGKILL test above: no half-written file)."""
    from mmengine.config import Config

    from helpers import load_tool
    tool = load_tool('tools/train.py')
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    tool.use_atomic_checkpoints(cfg)
    assert cfg.default_hooks.checkpoint.backend_args == dict(
        backend='zeroi2v_atomic')
    cfg.default_hooks.checkpoint.backend_args = dict(backend='petrel')
    tool.use_atomic_checkpoints(cfg)  # a backend the config chose stays
    assert cfg.default_hooks.checkpoint.backend_args == dict(backend='petrel')


@pytest.mark.slow
def test_dist_train_without_arguments_prints_usage():
    for script, usage in (('tools/dist_train.sh', 'CONFIG NUM_PROCESSES'),
                          ('tools/dist_test.sh',
                           'CONFIG CHECKPOINT NUM_PROCESSES')):
        result = subprocess.run(['bash', script],
                                cwd=REPO,
                                capture_output=True,
                                text=True)
        assert result.returncode == 2
        assert f'usage: bash {script} {usage}' in result.stderr
        assert 'Traceback' not in result.stderr


def test_gradient_checkpointing_gives_the_same_gradients():
    from zeroi2v_mm.models import ZeroI2VViT

    from helpers import TINY_ARCH, randomize_adapters
    torch.manual_seed(0)
    plain = ZeroI2VViT(
        arch=TINY_ARCH,
        num_frames=4,
        adapters=dict(),
        stdha=dict(offsets={1: 1}))
    randomize_adapters(plain)
    checkpointed = ZeroI2VViT(
        arch=TINY_ARCH,
        num_frames=4,
        adapters=dict(),
        stdha=dict(offsets={1: 1}),
        with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    plain(x).square().sum().backward()
    checkpointed(x).square().sum().backward()
    for (name, a), (_, b) in zip(plain.named_parameters(),
                                 checkpointed.named_parameters()):
        if a.requires_grad:
            assert torch.allclose(a.grad, b.grad, atol=1e-6), name
