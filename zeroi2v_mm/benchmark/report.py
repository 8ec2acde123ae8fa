"""The benchmark's report: Markdown table and notes, the accuracy plot,
and the JSON / Markdown files."""
import json
import os.path as osp
from typing import Any, Dict, List, Optional

from ..utils.io import atomic_write, atomic_write_json, atomic_write_text


def parse_accuracy(values: Optional[List[str]]) -> Dict[str, float]:
    accuracy: Dict[str, float] = {}
    for value in values or []:
        if '=' in value:
            key, top1 = value.split('=', 1)
            try:
                accuracy[key] = float(top1)
            except ValueError:
                raise ValueError(f'--accuracy {value}: TOP1 must be a '
                                 'number') from None
        else:
            try:
                with open(value) as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as error:
                raise ValueError(
                    f'--accuracy {value}: not NAME=TOP1 and not a readable '
                    f'JSON file ({error})') from None
            accuracy.update({k: float(v) for k, v in data.items()})
    return accuracy


def num(value: float, digits: int = 4) -> str:
    """``digits`` significant digits, never in exponent notation."""
    if value == 0:
        return '0'
    decimals = max(0, digits - 1 - int(f'{abs(value):e}'.split('e')[1]))
    return f'{value:.{decimals}f}'


def with_ratio(value: Optional[float],
               ratio: Optional[float],
               digits: int = 4) -> str:
    if value is None:
        return 'n/a'
    text = num(value, digits)
    return f'{text} (x{ratio:.3f})' if ratio is not None else text


def timing_cell(summary: Optional[dict], ratio: Optional[float]) -> str:
    if not summary:
        return 'n/a'
    ms = summary['ms']
    text = f"{num(ms['median'])} ±{num(ms['iqr'] / 2, 2)}"
    return f'{text} (x{ratio:.3f})' if ratio is not None else text


def settings_line(report: Dict[str, Any]) -> str:
    info, settings = report['machine'], report['settings']
    if settings.get('counts_only'):
        return 'Settings: parameter and FLOP counts only (--counts-only).'
    parts = [
        f"latency {settings['warmup']} warm-up + {settings['repeats']} "
        'timed rounds, batch 1 clip'
    ]
    if settings.get('throughput'):
        parts.append(f"throughput batch <= {settings['max_batch']} views")
    if settings.get('train'):
        parts.append(f"training {settings['train_batch']} clip(s) of one "
                     f"view, memory step + {settings['train_warmup']} warm-up"
                     f" + {settings['train_repeats']} timed rounds")
    parts.append('AMP fp16' if info['device'] == 'cuda' else 'fp32')
    return (f"Settings: {'; '.join(parts)}; "
            f"{report.get('seconds', 0):.0f} s in all.")


def markdown(report: Dict[str, Any]) -> str:
    info = report['machine']
    where = info.get('gpu') or info.get('cpu')
    accuracy = report.get('accuracy') or {}
    memory_measure = next(
        (row['train_memory']['measure']
         for row in report['results'] if row.get('train_memory')), None)
    lines = [
        f"Machine: {where}, {info['device']}, {info['threads']} threads, "
        f"torch {info['torch']}" +
        (f"; load average {info['load_average_at_start']} at start, "
         f"{info.get('load_average_at_end')} at end"
         if 'load_average_at_start' in info else '') + '.',
        settings_line(report),
        '',
        'Every figure: value (x ratio to the plain image ViT of the same size '
        'measured in the same run; for times the median of the per-round '
        'ratios). Times: median ± half the inter-quartile range over the '
        'rounds. Parameters, GFLOPs, latency and throughput are of the '
        'deployed model (mergeable updates folded); "unmerged" rows are the '
        'model as trained. Training columns are of the model as trained.',
    ]
    if memory_measure:
        lines.append(f'Training peak memory: {memory_measure}.')
    header = [
        'config', 'method', 'params (M)', 'trainable (M)',
        'new at inference (M)', 'GFLOPs / view', 'GFLOPs / clip',
        'latency (ms)', 'throughput (views/s)', 'train peak memory (MiB)',
        'train step (ms)'
    ]
    if accuracy:
        header.append('top-1')
    lines += [
        '', '| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)
    ]
    shared_note = {}

    def latency_cell(row, field):
        summary = row.get(field)
        if not summary:
            return 'n/a'
        text = timing_cell(summary, summary['paired_ratio'])
        unit = summary.get('unit')
        own = row['name'] + (':unmerged'
                             if field == 'latency_unmerged' else '')
        if unit and unit != own:
            shared_note[own] = unit
            text += ' ¹'
        return text

    for plain in report['plain']:
        cells = [
            f"plain ({plain['key']})", 'image ViT, all trainable',
            num(plain['params']['total'] / 1e6),
            num(plain['params']['total'] / 1e6), '0',
            num(plain['gflops']['per_view']),
            f"{num(plain['gflops']['per_clip'])} "
            f"({plain['test_views']} views)",
            timing_cell(plain.get('latency'), None),
            num(plain['throughput']['views_per_s'])
            if plain.get('throughput') else 'n/a',
            num(plain['train_memory']['peak_mib'])
            if plain.get('train_memory') else 'n/a',
            timing_cell(plain.get('train_step'), None)
        ]
        if accuracy:
            top1 = accuracy.get(plain['key'])
            cells.append('n/a' if top1 is None else f'{top1:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    for row in report['results']:
        params, ratios = row['params'], row['ratios']
        throughput, memory = row.get('throughput'), row.get('train_memory')
        cells = [
            row['name'],
            row['method'],
            with_ratio(params['deployed'] / 1e6, ratios['params_deployed']),
            num(params['trainable'] / 1e6),
            num(params['new_after_merge'] / 1e6),
            with_ratio(row['gflops']['per_view'], ratios['gflops']),
            f"{num(row['gflops']['per_clip'])} ({row['test_views']} views)",
            latency_cell(row, 'latency'),
            with_ratio(throughput['views_per_s'], ratios['throughput'])
            if throughput else 'n/a',
            with_ratio(memory['peak_mib'], ratios['train_memory'])
            if memory else 'n/a',
            timing_cell(row.get('train_step'), ratios.get('train_step')),
        ]
        if accuracy:
            top1 = accuracy.get(row['name'])
            cells.append('n/a' if top1 is None else f'{top1:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
        if row.get('latency_unmerged') or row['merged']:
            gflops = row['gflops']
            cells = [
                f"{row['name']} unmerged", 'as trained',
                with_ratio(params['total'] / 1e6, ratios['params']), '',
                num((params['total'] - params['plain']) / 1e6),
                with_ratio(gflops['per_view_unmerged'],
                           ratios['gflops_unmerged']),
                f"{num(gflops['per_view_unmerged'] * row['test_views'])} "
                f"({row['test_views']} views)",
                latency_cell(row, 'latency_unmerged'), '', '', ''
            ]
            if accuracy:
                cells.append('')
            lines.append('| ' + ' | '.join(cells) + ' |')
    if shared_note:
        lines += [
            '', '¹ the same network as another row, timed once: ' +
            '; '.join(f'{own} = {unit}'
                      for own, unit in shared_note.items()) + '.'
        ]
    lines += ['', 'Plain image ViTs (the ratios\' reference):', '']
    for plain in report['plain']:
        lines.append(
            f"* {plain['key']}: {plain['size']}; "
            f"{num(plain['params']['image_vit'] / 1e6)}M parameters + "
            f"{plain['params']['temporal_embedding']} of temporal embedding "
            f"(T x D); {num(plain['gflops']['per_view'])} GFLOPs per view "
            f"{tuple(plain['view_shape'])}.")
    attention = report.get('attention')
    if attention:
        layer, core = attention['layer'], attention['core']
        lines += [
            '', f"STDHA attention vs plain attention (same weights, input "
            f"{tuple(attention['shape'])}, offsets {attention['offsets']}, "
            f"{attention['temporal_heads']} of {attention['heads']} heads "
            f"temporal, size of {attention['config']}): whole layer "
            f"{num(layer['ms']['median'])} vs "
            f"{num(layer['plain_ms']['median'])} ms, "
            f"x{layer['paired_ratio']:.3f}; relocation + attention "
            f"between the projections {num(core['ms']['median'])} vs "
            f"{num(core['plain_ms']['median'])} ms, "
            f"x{core['paired_ratio']:.3f} (medians of per-round ratios)."
        ]
        kernels = attention.get('sdpa_kernels')
        if kernels:
            lines += [
                '', 'Attention kernels that ran (torch.profiler): '
                f"STDHA {', '.join(kernels['stdha']) or 'none'}; "
                f"plain {', '.join(kernels['plain']) or 'none'}."
            ]
    lines += compression_lines(report)
    compiled = [(row.get('name')
                 or f"plain ({row['key']})", row['latency_compiled'])
                for row in report['plain'] + report['results']
                if row.get('latency_compiled')]
    if compiled:
        lines += [
            '', 'torch.compile (Inductor) vs eager, same network, same '
            'rounds:', ''
        ]
        for name, summary in compiled:
            if summary.get('unit') and summary['unit'] != name:
                continue  # shared network: reported under its own row
            lines.append(f"* {name}: {num(summary['ms']['median'])} ms "
                         f"compiled vs {num(summary['plain_ms']['median'])} "
                         f"ms eager, x{summary['paired_ratio']:.3f}")
    if report.get('plot'):
        lines += ['', f"Top-1 vs GFLOPs per clip: {report['plot']}"]
    elif report.get('plot_error'):
        lines += ['', f"No plot: {report['plot_error']}"]
    return '\n'.join(lines) + '\n'


# The InTI paper's figures (ViT-B/16, 16 frames, K400): GFLOPs per clip of
# the naive model and InTI_{5,7}, and the latency cut it reports.
PAPER_INTI = dict(naive_gflops=281, inti_gflops=182, latency_cut=0.35)


def compression_lines(report: Dict[str, Any]) -> List[str]:
    """Frame compression (InTI, pooling) against the naive model of the
    same frame count (the row's plain model): latency and GFLOPs ratios,
    next to the paper's -35 %."""
    rows = [row for row in report['results'] if row.get('compress')]
    if not rows:
        return []
    lines = [
        '', 'Frame compression vs the naive model of the same frame '
        'count (its plain row; InTI paper, ViT-B/16 16 frames: '
        f"{PAPER_INTI['inti_gflops']} vs {PAPER_INTI['naive_gflops']} "
        f"GFLOPs per clip, latency -{PAPER_INTI['latency_cut']:.0%}):", ''
    ]
    for row in rows:
        compress, ratios = row['compress'], row['ratios']
        where = ','.join(str(b) for b in compress['after_blocks'])
        text = (f"* {row['name']}: {compress['type']}_{{{where}}}, frames "
                f"per block {compress['frames_per_block']}; GFLOPs "
                f"x{ratios['gflops']:.3f}")
        latency = row.get('latency')
        if latency:
            text += (f"; latency {num(latency['ms']['median'])} vs "
                     f"{num(latency['plain_ms']['median'])} ms, "
                     f"x{latency['paired_ratio']:.3f} "
                     f"({latency['paired_ratio'] - 1:+.0%})")
        lines.append(text)
    return lines


def plot_accuracy(report: Dict[str, Any], path: str) -> None:
    """Top-1 vs GFLOPs per clip of every config with an accuracy. Raises
    ImportError when matplotlib is missing."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 4))
    for row in report['results']:
        top1 = report['accuracy'].get(row['name'])
        if top1 is None:
            continue
        x = row['gflops']['per_clip']
        axes.scatter([x], [top1])
        axes.annotate(
            row['name'], (x, top1),
            fontsize=7,
            xytext=(3, 3),
            textcoords='offset points')
    axes.set_xlabel('GFLOPs per clip (test views, deployed model)')
    axes.set_ylabel('top-1 (%)')
    axes.grid(alpha=0.3)
    figure.tight_layout()
    fmt = osp.splitext(path)[1][1:] or 'png'
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=120, format=fmt))
    plt.close(figure)


def write_report(report: Dict[str, Any],
                 json_path: Optional[str] = None,
                 md_path: Optional[str] = None,
                 accuracy: Optional[Dict[str, float]] = None,
                 plot_path: Optional[str] = None) -> str:
    """Add the accuracies (and their plot: ``plot_path``, default next to
    the Markdown file as ``<md stem>_accuracy.png``) to ``report``, write
    the JSON and Markdown files asked for; returns the Markdown text. A
    missing matplotlib is noted in the report, not raised."""
    if accuracy:
        report['accuracy'] = accuracy
        plot = plot_path or (osp.splitext(md_path)[0] +
                             '_accuracy.png' if md_path else None)
        if plot is None:
            report['plot_error'] = ('give --plot PATH (or --md) to write the '
                                    'top-1 vs GFLOPs plot')
        else:
            try:
                plot_accuracy(report, plot)
                report['plot'] = plot
            except ImportError:
                report['plot_error'] = (
                    'matplotlib is not installed (pip install matplotlib); '
                    'the accuracies are in the table and the JSON')
    text = markdown(report)
    # Atomic: a failed write keeps the previous report whole.
    if json_path:
        atomic_write_json(report, json_path)
    if md_path:
        atomic_write_text(text, md_path)
    return text
