#!/usr/bin/env python
"""Print the demo's summary table from what its steps wrote to disk.

    python tools/demo/summarize.py WORK_DIR [--pretrain-dir DIR]
        [--int8-report FILE.onnx.report.json]
        [--seconds S] [--stage NAME=SECONDS ...] [--md OUT]

WORK_DIR is the work dir of ``mim train mmaction
configs/demo/zeroi2v_synthetic.py``; the demo tests the best unmerged
checkpoint with ``--work-dir WORK_DIR/test_unmerged`` and the merged one with
``--work-dir WORK_DIR/test_merged``. Read here:

- ``WORK_DIR/test_{unmerged,merged}/<timestamp>/<timestamp>.json``: the
  metrics MMEngine's LoggerHook dumps after ``mim test`` (newest run);
- ``WORK_DIR/*_merged.json``: MergeAdaptersHook's report (merged vs unmerged
  logits on validation clips, parameters and GFLOPs per view before and
  after the merge, the plain image ViT's parameter count);
- ``--pretrain-dir``: the mmpretrain work dir of the image model (its best
  validation accuracy, from MMEngine's ``vis_data/scalars.json``);
- ``--int8-report``: the report ``tools/deployment/export_onnx.py --quantize
  int8 --verify`` writes next to the int8 file (accuracy of the int8 file and
  of PyTorch on the verification clips, agreement, onnxruntime latency against
  the float32 ONNX file on the same clips, file sizes).

Nothing is recomputed: a missing file is an error that names it.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from zeroi2v_mm.utils.cli import run_tool
from zeroi2v_mm.utils.io import atomic_write_text, check_output


def newest(pattern: str, what: str) -> str:
    paths = sorted(glob.glob(pattern), key=osp.getmtime)
    if not paths:
        raise FileNotFoundError(f'{pattern}: not found ({what})')
    return paths[-1]


def test_metrics(test_dir: str) -> Dict[str, float]:
    """Metrics of the newest ``mim test`` run in ``test_dir``."""
    path = newest(
        osp.join(test_dir, '*', '*.json'),
        f'the metrics of `mim test --work-dir {test_dir}`')
    with open(path) as f:
        metrics = json.load(f)
    if 'acc/top1' not in metrics:
        raise KeyError(f'{path}: no acc/top1 in {sorted(metrics)}')
    return metrics


def best_image_accuracy(pretrain_dir: str) -> Optional[float]:
    """Best validation top-1 (%) of the mmpretrain run in ``pretrain_dir``."""
    path = newest(
        osp.join(pretrain_dir, '*', 'vis_data', 'scalars.json'),
        'the validation log of the image pretraining')
    best = None
    with open(path) as f:
        for line in f:
            value = json.loads(line).get('accuracy/top1')
            if value is not None:
                best = value if best is None else max(best, value)
    return best


def parse_stages(values: Optional[Sequence[str]]) -> List[Tuple[str, float]]:
    """``NAME=SECONDS`` pairs (the demo's stages, in order). Raises
    ValueError naming a malformed pair."""
    stages = []
    for value in values or []:
        name, _, seconds = value.partition('=')
        try:
            stages.append((name.strip(), float(seconds)))
        except ValueError:
            raise ValueError(f'--stage {value!r}: expected NAME=SECONDS') \
                from None
        if not name.strip() or '|' in name:
            raise ValueError(f'--stage {value!r}: expected NAME=SECONDS '
                             '(a name without "|")')
    return stages


def int8_row(path: str) -> List[str]:
    """The int8 ONNX file against float32, from its verification report."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: not found (the report of '
                                '`export_onnx.py --quantize int8 --verify`)')
    with open(path) as f:
        report = json.load(f)
    check = report.get('verification') or {}
    accuracy = check.get('accuracy')
    if not accuracy or 'latency_ratio' not in check:
        raise KeyError(f'{path}: no verification accuracy / latency_ratio '
                       '(was it written with --verify on labelled clips?)')
    return [
        f"int8 ONNX top-1 % (val, {accuracy['clips']} clips)", '',
        f"{100 * accuracy['model']:.1f}",
        f"fp32 {100 * accuracy['pytorch']:.1f}; agreement "
        f"{100 * check['top1_agreement']:.1f} %; onnxruntime latency "
        f"{check['latency_ratio']:.2f} x fp32 ONNX; file "
        f"{report['bytes'] / 1e6:.2f} MB = {report['size_ratio']:.2f} x fp32"
    ]


def summary_rows(work_dir: str,
                 pretrain_dir: Optional[str],
                 seconds: Optional[float],
                 stages: Sequence[Tuple[str, float]] = (),
                 int8_report: Optional[str] = None) -> List[List[str]]:
    unmerged = test_metrics(osp.join(work_dir, 'test_unmerged'))
    merged = test_metrics(osp.join(work_dir, 'test_merged'))
    report_path = newest(
        osp.join(work_dir, '*_merged.json'), 'the MergeAdaptersHook report')
    with open(report_path) as f:
        report = json.load(f)
    params = report.get('params')
    flops = report.get('gflops_per_view')
    if not params or not flops:
        raise KeyError(f'{report_path}: no params / gflops_per_view (was '
                       'the hook run with count_flops=False?)')

    rows = []
    if pretrain_dir:
        accuracy = best_image_accuracy(pretrain_dir)
        if accuracy is not None:
            rows.append([
                'image model (mmpretrain), what-and-where top-1 %',
                f'{accuracy:.1f}', '', ''
            ])
    rows.append([
        'video top-1 % (val)', f"{100 * unmerged['acc/top1']:.1f}",
        f"{100 * merged['acc/top1']:.1f}", ''
    ])
    rows.append([
        'max abs logit difference, merged vs unmerged', '',
        f"{report['max_abs_diff']:.2e}",
        f"top-1 agreement {report['top1_agreement']:.4f}"
    ])
    image_vit = params.get('image_vit')
    rows.append([
        'parameters (whole model)', f"{params['before']:,}",
        f"{params['after']:,}",
        f'plain image ViT backbone {image_vit:,} + T x D temporal '
        f"embedding {params.get('temporal_embedding', 0):,} + head"
        if image_vit is not None else ''
    ])
    shape = 'x'.join(str(s) for s in flops.get('input_shape', ()))
    rows.append([
        f'GFLOPs per view ({shape})', f"{flops['before']:.4f}",
        f"{flops['after']:.4f}",
        f"merged / unmerged {flops['after'] / flops['before']:.3f}"
    ])
    if int8_report:
        rows.append(int8_row(int8_report))
    if seconds is not None:
        rows.append(['wall time of the demo', '', '', f'{seconds:.0f} s'])
    for name, stage_seconds in stages:
        rows.append([f'- {name}', '', '', f'{stage_seconds:.0f} s'])
    return rows


def markdown(rows: Sequence[Sequence[str]]) -> str:
    lines = [
        '| | unmerged (training) | merged (deployed) | |',
        '|---|---:|---:|---|'
    ]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--pretrain-dir', default=None)
    parser.add_argument(
        '--int8-report',
        default=None,
        help='the int8 export report (FILE.onnx.report.json)')
    parser.add_argument(
        '--seconds',
        type=float,
        default=None,
        help='wall time of the whole demo, to print')
    parser.add_argument(
        '--stage',
        nargs='+',
        default=None,
        metavar='NAME=SECONDS',
        help='time of each stage of the demo, in order')
    parser.add_argument('--md', default=None, help='also write the table here')
    args = parser.parse_args(argv)
    try:
        if args.md:
            # Regenerated by every demo run: replaced, atomically.
            check_output(args.md, force=True, option='--md')
        table = markdown(
            summary_rows(args.work_dir, args.pretrain_dir, args.seconds,
                         parse_stages(args.stage), args.int8_report))
    except (FileNotFoundError, KeyError, ValueError) as error:
        print(f'summarize: {error}', file=sys.stderr)
        return 1
    print(table, end='')
    if args.md:
        atomic_write_text(table, args.md)
    return 0


if __name__ == '__main__':
    run_tool(main)
