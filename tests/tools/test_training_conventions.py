"""MMAction2 conventions of training: tools/train.py's --no-validate,
--seed, --deterministic; the trainable-parameter printout at the start of
training; the merge report logged through the visualizer."""
import glob
import json
import os.path as osp

import pytest

from helpers import REPO, make_tiny_videos, run_cli, tiny_demo_overrides

CONFIG = osp.join(REPO, 'configs/demo/zeroi2v_synthetic.py')


@pytest.mark.slow
def test_train_flags_printout_and_merge_scalars(tmp_path):
    data = make_tiny_videos(
        tmp_path / 'data', videos_per_class=1, val_per_class=1)
    work_dir = str(tmp_path / 'work')
    log = run_cli([
        'python', 'tools/train.py', CONFIG, '--work-dir', work_dir,
        '--no-validate', '--seed', '7', '--deterministic', '--cfg-options',
        *tiny_demo_overrides(data, work_dir, epochs=1)
    ])
    # --seed / --deterministic reach MMEngine's randomness settings
    assert 'seed: 7' in log
    assert 'deterministic: True' in log
    # --no-validate: no validation loop ran
    assert 'Epoch(val)' not in log
    assert 'Training finished successfully' in log or 'Saving checkpoint' \
        in log

    # the optimizer gets the trainable parameters only, and says so in one
    # line instead of one warning per frozen tensor
    assert 'is skipped since its requires_grad=False' not in log
    assert 'TrainableParamsOptimWrapperConstructor:' in log
    # the per-module printout, before the first iteration
    table = log[log.index('Trainable parameters per module'):]
    assert log.index('Trainable parameters per module') < log.index(
        'Epoch(train)')
    rows = {
        line.split()[0]: line.split()[1:]
        for line in table.splitlines()[2:40] if line.strip()
    }
    # temporal embedding (8 x 64) trains, the patch embedding is frozen,
    # the adapters of all blocks are one row
    assert rows['backbone.temporal_embedding'][1:] == ['512', '0']
    assert rows['backbone.conv1'][1] == '0'
    adapter_rows = [
        name for name in rows if 'resblocks.*' in name and 'adapter' in name
    ]
    assert adapter_rows and all(
        int(rows[n][1].replace(',', '')) > 0 for n in adapter_rows)

    # the merge report went through the visualizer (LocalVisBackend here)
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert scalars
    records = [json.loads(line) for line in open(scalars[0])]
    merged = [r for r in records if 'merge/max_abs_diff' in r]
    assert merged, records[-3:]
    assert merged[0]['merge/max_abs_diff'] < 1e-4
    assert merged[0]['merge/top1_agreement'] == 1.0


def test_train_flags_set_the_config():
    from mmengine.config import Config

    from helpers import load_tool
    tool = load_tool('tools/train.py')
    cfg = Config.fromfile(CONFIG)
    import sys
    argv, sys.argv = sys.argv, [
        'train.py', CONFIG, '--no-validate', '--seed', '3', '--diff-rank-seed',
        '--deterministic'
    ]
    try:
        args = tool.parse_args()
    finally:
        sys.argv = argv
    cfg = tool.merge_args(cfg, args)
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    assert cfg.val_evaluator is None
    assert cfg.randomness == dict(
        seed=3, diff_rank_seed=True, deterministic=True)
    # without the flags the config's own settings stay
    argv, sys.argv = sys.argv, ['train.py', CONFIG]
    try:
        plain = tool.merge_args(Config.fromfile(CONFIG), tool.parse_args())
    finally:
        sys.argv = argv
    assert plain.val_dataloader is not None
    assert plain.randomness == dict(seed=0, deterministic=False)
