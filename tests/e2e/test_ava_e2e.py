"""AVA end to end: a tiny train -> merge -> test run on synthetic AVA whose
merged detections and AVAMetric mAP equal the unmerged model's."""
import copy
import json
import os
import os.path as osp
import pickle

import pytest
import torch

from mmaction.registry import MODELS

from helpers import REPO, VENV_BIN, run_cli
from helpers.ava import CONFIG, STEM, TINY, needs_mmdet, tiny_detector_cfg


def _run(args, cwd, timeout=300):
    """A CLI run in ``cwd``. One thread unless set: the model is tiny, and
    spinning OpenMP threads on a busy CI machine cost more than they
    give."""
    return run_cli(
        args,
        timeout=timeout,
        cwd=cwd,
        OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))


def _metric_line(log: str) -> str:
    lines = [line for line in log.splitlines() if 'mAP/overall' in line]
    assert lines, log[-3000:]
    return lines[-1].split('mAP/overall:')[1].split()[0]


@pytest.mark.slow
@needs_mmdet
def test_tiny_ava_train_merge_test_end_to_end(tmp_path, monkeypatch):
    """tools/train.py on synthetic AVA (1 epoch; validation of the trained
    model with AVAMetric; MergeAdaptersHook), then tools/test.py of the
    merged checkpoint (adapters=None, strict): the same boxes and scores
    (<= 1e-5) as the trained model's, and the same AVAMetric mAP."""
    from zeroi2v_mm.testing import synthetic_ava as tool
    run_dir = tmp_path / 'run'
    tool.make_dataset(
        run_dir / 'data' / 'synthetic_ava', train_videos=2, val_videos=2)
    work = run_dir / 'work'
    python = osp.join(VENV_BIN, 'python')
    train_log = _run([
        python,
        osp.join(REPO, 'tools/train.py'), CONFIG, '--work-dir',
        str(work), '--cfg-options', *TINY, 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.save_best=None'
    ],
                     cwd=run_dir)
    unmerged_map = _metric_line(train_log)  # AVAMetric, trained model

    merged_ckpt = work / f'{STEM}_merged.pth'
    report_path = work / f'{STEM}_merged.json'
    assert merged_ckpt.is_file() and report_path.is_file(), train_log[-3000:]
    report = json.loads(report_path.read_text())
    assert report['passed'] and report['max_abs_diff'] <= 1e-4
    assert report['adapted_linears_before'] == 8
    assert report['adapted_linears_after'] == 0
    assert report['params']['after'] < report['params']['before']
    merged_state = torch.load(
        merged_ckpt, map_location='cpu', weights_only=False)['state_dict']
    trained_state = torch.load(
        work / 'epoch_1.pth', map_location='cpu',
        weights_only=False)['state_dict']
    for name, value in trained_state.items():
        if name.startswith('roi_head.'):  # box head: bit-identical
            assert torch.equal(merged_state[name], value), name

    merged_log = _run([
        python,
        osp.join(REPO, 'tools/test.py'), CONFIG,
        str(merged_ckpt), '--work-dir',
        str(work / 'test_merged'), '--dump',
        str(work / 'merged.pkl'), '--cfg-options', *TINY,
        'model.backbone.adapters=None', 'custom_hooks=[]'
    ],
                      cwd=run_dir)
    assert 'do not match exactly' not in merged_log  # no missing keys
    assert _metric_line(merged_log) == unmerged_map
    with open(work / 'merged.pkl', 'rb') as f:
        merged = pickle.load(f)

    # The trained (unmerged) model's detections on the same clips, and the
    # merged checkpoint loaded strictly into the adapters=None detector.
    from mmengine.runner import Runner, load_checkpoint
    monkeypatch.chdir(run_dir)  # relative data paths; AVAMetric's temp CSV
    cfg = tiny_detector_cfg()
    trained = MODELS.build(cfg.model)
    load_checkpoint(
        trained, str(work / 'epoch_1.pth'), map_location='cpu', strict=True)
    plain_cfg = copy.deepcopy(cfg.model)
    plain_cfg.backbone.adapters = None
    load_checkpoint(
        MODELS.build(plain_cfg),
        str(merged_ckpt),
        map_location='cpu',
        strict=True)
    trained.eval()
    unmerged = []
    with torch.no_grad():
        for batch in Runner.build_dataloader(cfg.test_dataloader):
            unmerged += [
                sample.to_dict() for sample in trained.test_step(batch)
            ]
    assert len(unmerged) == len(merged) == 9  # val keyframes, 1 excluded
    for a, b in zip(unmerged, merged):
        assert (a['video_id'], a['timestamp']) == (b['video_id'],
                                                   b['timestamp'])
        assert torch.equal(a['pred_instances']['bboxes'],
                           b['pred_instances']['bboxes'])
        scores_a = a['pred_instances']['scores']
        assert scores_a.shape[1] == 5
        assert (scores_a - b['pred_instances']['scores']).abs().max() <= 1e-5

    # AVAMetric on both sets of detections: the same mAP, the one logged.
    from mmaction.evaluation import AVAMetric
    anno = 'data/synthetic_ava/annotations'
    maps = []
    for predictions in (unmerged, merged):
        metric = AVAMetric(
            ann_file=f'{anno}/ava_val_v2.2.csv',
            exclude_file=f'{anno}/ava_val_excluded_timestamps_v2.2.csv',
            label_file=f'{anno}/{tool.LABEL_FILE}',
            num_classes=5)
        metric.process(None, predictions)
        maps.append(metric.compute_metrics(metric.results)['overall'])
    assert maps[0] == maps[1]
    assert 0 <= maps[0] <= 1
    assert f'{maps[0]:.4f}' == unmerged_map
