"""tools/demo/summarize.py: the demo's summary table from the files that
`mim test`, MergeAdaptersHook and mmpretrain write (layouts as they write
them), and a clear error naming what is missing."""
import json
import os

import pytest

from helpers import load_tool


def write_json(path, data, lines=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        if lines:
            f.writelines(json.dumps(item) + '\n' for item in data)
        else:
            json.dump(data, f)


@pytest.fixture
def demo_outputs(tmp_path):
    work = tmp_path / 'zeroi2v_synthetic'
    # LoggerHook.after_test_epoch: <work_dir>/<timestamp>/<timestamp>.json
    write_json(
        str(work / 'test_unmerged' / '20261123_1' / '20261123_1.json'), {
            'acc/top1': 0.79,
            'acc/top5': 0.99
        })
    write_json(
        str(work / 'test_merged' / '20261123_2' / '20261123_2.json'), {
            'acc/top1': 0.785,
            'acc/top5': 0.99
        })
    write_json(
        str(work / 'zeroi2v_synthetic_merged.json'), {
            'max_abs_diff': 1.2e-5,
            'top1_agreement': 1.0,
            'num_samples': 32,
            'params': {
                'before': 962570,
                'after': 828938,
                'image_vit': 826624,
                'temporal_embedding': 1024
            },
            'gflops_per_view': {
                'before': 0.5273,
                'after': 0.4591,
                'input_shape': [3, 8, 64, 64]
            }
        })
    pre = tmp_path / 'pretrain'
    write_json(
        str(pre / '20261123_0' / 'vis_data' / 'scalars.json'),
        [{
            'loss': 3.0,
            'step': 1
        }, {
            'accuracy/top1': 40.0,
            'step': 1
        }, {
            'accuracy/top1': 55.4,
            'step': 2
        }],
        lines=True)
    return work, pre


def test_summary_table_reads_every_step(demo_outputs, tmp_path, capsys):
    work, pre = demo_outputs
    tool = load_tool('tools/demo/summarize.py')
    md = tmp_path / 'summary.md'
    assert tool.main([
        str(work), '--pretrain-dir',
        str(pre), '--seconds', '593', '--stage', 'set-up=61.2', 'data=20',
        'video training and merge=400', '--md',
        str(md)
    ]) == 0
    table = capsys.readouterr().out
    assert md.read_text() == table
    rows = {
        line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
        for line in table.splitlines()[2:]
    }
    assert rows['video top-1 % (val)'][:2] == ['79.0', '78.5']
    assert rows['image model (mmpretrain), what-and-where top-1 %'][0] == \
        '55.4'  # the best validation epoch, not the last line
    assert rows['max abs logit difference, merged vs unmerged'][1] == \
        '1.20e-05'
    assert rows['parameters (whole model)'][:2] == ['962,570', '828,938']
    assert rows['GFLOPs per view (3x8x64x64)'][2] == \
        'merged / unmerged 0.871'
    assert rows['wall time of the demo'][2] == '593 s'
    # the time of each stage, in the order given, after the total
    names = [line.split('|')[1].strip() for line in table.splitlines()]
    assert names[-4:] == [
        'wall time of the demo', '- set-up', '- data',
        '- video training and merge'
    ]
    assert rows['- set-up'][2] == '61 s' and rows['- data'][2] == '20 s'
    # every row has the header's number of cells: a '|' inside a cell would
    # break the Markdown table
    assert all(line.count('|') == 5 for line in table.splitlines())


def test_summary_names_the_missing_file(demo_outputs, capsys):
    work, _ = demo_outputs
    for path in (work / 'test_merged').rglob('*.json'):
        path.unlink()
    tool = load_tool('tools/demo/summarize.py')
    assert tool.main([str(work)]) == 1
    error = capsys.readouterr().err
    assert 'test_merged' in error and 'mim test' in error


def test_malformed_stage_time_is_refused(demo_outputs, capsys):
    work, _ = demo_outputs
    tool = load_tool('tools/demo/summarize.py')
    assert tool.main([str(work), '--stage', 'set-up=slow']) == 1
    assert "--stage 'set-up=slow': expected NAME=SECONDS" in \
        capsys.readouterr().err


def test_int8_row(demo_outputs, tmp_path, capsys):
    """The int8 row comes from export_onnx.py's verification report."""
    work, _ = demo_outputs
    report = tmp_path / 'model_int8.onnx.report.json'
    write_json(
        str(report), {
            'bytes': 260000,
            'size_ratio': 0.2765,
            'verification': {
                'top1_agreement': 0.995,
                'accuracy': {
                    'clips': 200,
                    'model': 0.86,
                    'pytorch': 0.865
                },
                'latency_ratio': 0.512
            }
        })
    tool = load_tool('tools/demo/summarize.py')
    assert tool.main([str(work), '--int8-report', str(report)]) == 0
    table = capsys.readouterr().out
    (row, ) = [line for line in table.splitlines() if 'int8' in line]
    cells = [c.strip() for c in row.split('|')[1:-1]]
    assert cells == [
        'int8 ONNX top-1 % (val, 200 clips)', '', '86.0',
        'fp32 86.5; agreement 99.5 %; onnxruntime latency 0.51 x fp32 ONNX; '
        'file 0.26 MB = 0.28 x fp32'
    ]
    assert tool.main([str(work), '--int8-report', str(tmp_path / 'no')]) == 1
    assert 'export_onnx.py --quantize int8' in capsys.readouterr().err


def test_demo_set_up_installs_what_its_stages_import():
    """README command 1 runs on a fresh machine with what tools/run_demo.sh
    installs: its ONNX stage needs the export extra, which only
    `setup_env.sh --export` (or --tests) brings (a green test run, whose
    set-up has everything, cannot show this)."""
    import os.path as osp
    import re

    from helpers import REPO
    script = open(osp.join(REPO, 'tools/run_demo.sh')).read()
    setup = re.findall(r'^bash tools/setup_env\.sh(.*)$', script, flags=re.M)
    assert len(setup) == 1
    if 'tools/deployment/' in script:
        assert '--export' in setup[0].split()
        export = open(osp.join(REPO, 'requirements-export.txt')).read()
        for package in ('onnx==', 'onnxruntime=='):
            assert package in export
