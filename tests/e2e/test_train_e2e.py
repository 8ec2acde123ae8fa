"""`mim train` then `mim test` (and tools/train.py --resume) on generated
videos, end to end through MMAction2's runner."""
import os.path as osp
import re

import pytest

from helpers import run_cli, tiny_demo_overrides

CONFIG = 'configs/demo/zeroi2v_synthetic.py'


def _top1(log: str, mode: str) -> float:
    matches = re.findall(rf'Epoch\({mode}\).*?acc/top1: ([0-9.]+)', log)
    assert matches, f'no {mode} accuracy in the log'
    return float(matches[-1])


@pytest.mark.slow
def test_mim_train_then_mim_test(tiny_data, tmp_path):
    work_dir = str(tmp_path / 'work')
    options = tiny_demo_overrides(tiny_data, work_dir, epochs=2)
    log = run_cli([
        'mim', 'train', 'mmaction', CONFIG, '--work-dir', work_dir,
        '--cfg-options', *options
    ])
    assert 'Training finished successfully' in log
    checkpoint = osp.join(work_dir, 'epoch_2.pth')
    assert osp.isfile(checkpoint)
    val_top1 = _top1(open(_latest_log(work_dir)).read(), 'val')

    log = run_cli([
        'mim', 'test', 'mmaction', CONFIG, '--checkpoint', checkpoint,
        '--work-dir', work_dir, '--cfg-options', *options
    ])
    # the reloaded checkpoint reproduces the last validation exactly
    assert _top1(log, 'test') == val_top1


@pytest.mark.slow
def test_train_py_resume_continues_from_last_checkpoint(tiny_data, tmp_path):
    work_dir = str(tmp_path / 'work')
    options = tiny_demo_overrides(tiny_data, work_dir, epochs=1)
    run_cli([
        'python', 'tools/train.py', CONFIG, '--work-dir', work_dir,
        '--cfg-options', *options
    ])
    options = tiny_demo_overrides(tiny_data, work_dir, epochs=2)
    log = run_cli([
        'python', 'tools/train.py', CONFIG, '--work-dir', work_dir, '--resume',
        '--cfg-options', *options
    ])
    assert 'resumed epoch: 1' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))


def _latest_log(work_dir: str) -> str:
    import glob
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    assert logs, f'no log under {work_dir}'
    return logs[-1]
