"""Efficiency benchmark of configs against the plain image ViT of the same
size.

    python tools/benchmark.py CONFIG [CONFIG ...] [--device cpu|cuda]
        [--json OUT.json] [--md OUT.md] [--accuracy ACC.json | NAME=TOP1 ...]
        [--plot OUT.png] [--quick] [--warmup N] [--repeats N]
        [--train-warmup N] [--train-repeats N] [--train-batch N]
        [--max-batch N] [--views V] [--threads N] [--no-throughput]
        [--no-train] [--no-attention] [--no-unmerged] [--no-share]
        [--compile] [--counts-only] [--cfg-options k=v ...]

Models are built with ``pretrained=None``: costs do not depend on the weights.
Per config:

* parameters: ``total`` and ``trainable`` of the model as trained (a
  parameter the config's ``paramwise_cfg`` gives ``lr_mult=0`` counts as
  frozen and gets no gradient here: the linear probe's temporal embedding
  and ln_post), ``new_after_merge`` = parameters of the deployed model
  (linear adapters, LoRA and temporal-head updates folded by
  :func:`zeroi2v_mm.reparam.merge_adapters`; AIM, ST-Adapter and GELU
  adapters stay) minus those of the plain model;
* GFLOPs per view of the deployed model, multiply-accumulates in the fvcore
  convention, counted by MMEngine's ``FlopAnalyzer`` with attention
  (:func:`zeroi2v_mm.utils.complexity.complexity`), and per clip (x test
  views);
* inference latency of the deployed model, pixels to class logits: batch 1
  clip x the config's test views (``--views`` overrides); for configs that
  merge, also of the model as trained (unmerged; ``--no-unmerged`` skips);
* throughput (views / s) at the largest batch of views that fits: on CUDA
  the batch doubles until out of memory or ``--max-batch``; on CPU it is
  ``--max-batch`` (memory is not what limits a CPU);
* training on ``--train-batch`` clips of one view (forward, cross-entropy,
  backward, AdamW step; the model as the config trains it): time of a step
  and peak memory. Peak memory = bytes of the parameters, buffers and AdamW
  state of the model (allocated before the step) + the peak increase of
  allocated tensor memory during the step (activations, gradients,
  temporaries). On CUDA the increase is ``torch.cuda.max_memory_allocated``
  minus the allocation before the step; on CPU it is the peak of the running
  sum of the tensor allocations and frees that ``torch.profiler`` records
  with ``profile_memory=True`` (the process RSS would also count the
  allocator's caches, other models and other threads; tracemalloc does not
  see tensors). The measured step also serves as the first warm-up step.

The plain model of a config is the same config with ``stdha=None,
adapters=None, peft=None, compress=None`` and ``freeze_pretrained=False``: the
image ViT (plus its zero T x D temporal embedding), trained as a whole. Every
figure is also given as a ratio to it.

Timing: every model is warmed up, then timed in rounds; in each round every
model of the run (all configs and the plain models) runs once, in an order
that rotates and reverses from round to round, so that load from other
processes hits all of them alike. Reported: median and inter-quartile range
over the rounds; ratios to the plain model both as the ratio of the medians
and as the median of the per-round ratios (``paired_ratio``, the robust one:
the Markdown table shows it). Deployed models that are the same network
(same modules, shapes and settings: e.g. merged ZeroI2V, merged LoRA, merged
temporal-heads and full fine-tuning are all the plain ViT + STDHA; the
linear probe is the plain ViT) are timed once and share the figures
(``--no-share`` times each separately). On CUDA, inference and training run
under AMP (fp16 autocast; GradScaler for training).

With ``--compile`` every deployed network is also timed after
``torch.compile`` (Inductor, default mode; compiled during the warm-up
rounds), in the same interleaved rounds as the eager one: ``latency_compiled``
and its ratio to eager (``ratios.compiled_vs_eager``). Compilation takes
minutes per network on a small CPU.

A micro-benchmark times one STDHA attention layer against the same layer
without head relocation (same weights and input, the size and offsets of the
first config with STDHA), both whole (in-projection, relocation, attention,
out-projection) and its core (relocation + scaled dot-product attention on a
given q/k/v buffer), and reports the ratios, and which scaled dot-product
attention kernels ran in each (``attention.sdpa_kernels``, from
``torch.profiler``: on CUDA the flash / memory-efficient / cuDNN / math
kernel names, on CPU the ATen op), so that a fall-back of STDHA off the fused
kernels shows.

For configs that compress frames (``compress=``: InTI, pooling) the plain
model is the naive model of the same frame count, and the report lists their
latency and GFLOPs ratios to it next to the InTI paper's -35 % (``compress``
in their JSON rows).

``--counts-only`` stops after the parameter and FLOP counts (no timing).
On a small CPU give ``--threads`` (all cores) and run on an idle machine:
a thread that another process keeps from running stalls every operation.

Outputs: a Markdown table on stdout and in ``--md``, everything in
``--json``; with ``--accuracy`` (a JSON file ``{config name: top-1}`` or
``NAME=TOP1`` pairs; names are config file stems) a top-1 column and a plot
of top-1 vs GFLOPs per clip (``--plot``, default next to the Markdown file as
``<md stem>_accuracy.png``; needs matplotlib).

The measurement code is :mod:`zeroi2v_mm.benchmark` (settings, timing,
runners, the run over configs, the report); this file is its command line.
"""
import argparse
import os.path as osp
import sys
from typing import Any, Dict

import torch
from mmengine.config import DictAction

from zeroi2v_mm.benchmark import (BenchmarkSettings, benchmark, parse_accuracy,
                                  write_report)
from zeroi2v_mm.utils.cli import run_tool
from zeroi2v_mm.utils.io import (OutputPathError, check_output, run_inputs,
                                 same_file)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='See the module docstring (top of tools/benchmark.py) for '
        'what each figure is and how it is measured.')
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument(
        '--device',
        choices=['cpu', 'cuda'],
        default=None,
        help='default: cuda when available')
    parser.add_argument('--json', help='write all results here')
    parser.add_argument('--md', help='write the Markdown table here')
    parser.add_argument(
        '--accuracy',
        nargs='+',
        metavar='ACC',
        help='JSON file {config name: top-1} or NAME=TOP1')
    parser.add_argument(
        '--plot',
        help='top-1 vs GFLOPs plot (PNG); default '
        '<md stem>_accuracy.png with --md and --accuracy')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='smoke test: 1 warm-up and 2 timed rounds, 1 '
        'timed training round, throughput batch 2, 3 '
        'attention rounds')
    parser.add_argument(
        '--warmup',
        type=int,
        default=None,
        help='inference warm-up rounds (default 1 on cpu, '
        '3 on cuda)')
    parser.add_argument(
        '--repeats',
        type=int,
        default=None,
        help='timed inference rounds (default 5 on cpu, 20 '
        'on cuda)')
    parser.add_argument(
        '--train-warmup',
        type=int,
        default=None,
        help='training warm-up rounds after the memory step '
        '(default 0 on cpu, 2 on cuda)')
    parser.add_argument(
        '--train-repeats',
        type=int,
        default=None,
        help='timed training rounds (default 3 on cpu, 10 on '
        'cuda)')
    parser.add_argument(
        '--train-batch',
        type=int,
        default=None,
        help='clips per training step (default 1 on cpu, 8 '
        'on cuda)')
    parser.add_argument(
        '--max-batch',
        type=int,
        default=None,
        help='throughput batch cap in views (default 1024 '
        'on cuda, 4 on cpu)')
    parser.add_argument(
        '--views',
        type=int,
        default=None,
        help='views per clip for latency (default: the '
        "config's test views)")
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='CPU threads (default: torch default)')
    parser.add_argument('--no-throughput', action='store_true')
    parser.add_argument('--no-train', action='store_true')
    parser.add_argument('--no-attention', action='store_true')
    parser.add_argument(
        '--no-unmerged',
        action='store_true',
        help='do not time the unmerged models of configs '
        'that merge')
    parser.add_argument(
        '--no-share',
        action='store_true',
        help='time identical deployed networks separately')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='also time every deployed network compiled with '
        'torch.compile (Inductor; minutes per network on a '
        'small CPU)')
    parser.add_argument(
        '--counts-only',
        action='store_true',
        help='parameters and GFLOPs only: no timing, no '
        'training (fast)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='applied to every config')
    args = parser.parse_args(argv)
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device available')
    for path in args.configs:
        if not osp.isfile(path):
            parser.error(f'config not found: {path}')
    try:
        args.settings = BenchmarkSettings.for_device(
            args.configs,
            args.device,
            quick=args.quick,
            warmup=args.warmup,
            repeats=args.repeats,
            train_warmup=args.train_warmup,
            train_repeats=args.train_repeats,
            train_batch=args.train_batch,
            max_batch=args.max_batch,
            views=args.views,
            threads=args.threads,
            throughput=not args.no_throughput,
            train=not args.no_train,
            attention=not args.no_attention,
            unmerged=not args.no_unmerged,
            share=not args.no_share,
            compile=args.compile,
            counts_only=args.counts_only,
            cfg_options=args.cfg_options)
    except ValueError as error:
        parser.error(str(error))
    return args


def check_report_paths(args) -> None:
    """Refuse a --json / --md / --plot path that is one of the run's inputs
    (a config, what it names, the --accuracy file) or a directory, before
    anything is measured. Reports are regenerated on every run: an existing
    one is replaced, atomically."""
    inputs = []
    for config in args.configs:
        inputs.extend(run_inputs(config, cfg_options=args.cfg_options))
    inputs.extend(('--accuracy', item) for item in args.accuracy or ()
                  if '=' not in item)
    plot = args.plot or (osp.splitext(args.md)[0] + '_accuracy.png'
                         if args.md and args.accuracy else None)
    outputs = [(name, path)
               for name, path in (('--json', args.json), ('--md', args.md),
                                  ('--plot', plot)) if path]
    try:
        for index, (name, path) in enumerate(outputs):
            check_output(path, inputs, True, name)
            for other, earlier in outputs[:index]:
                if same_file(path, earlier):
                    raise OutputPathError(f'{name} {path} is also {other}; '
                                          'give each its own file')
    except OutputPathError as error:
        raise SystemExit(f'error: {error}') from None


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    try:
        accuracy = parse_accuracy(args.accuracy)
    except ValueError as error:
        raise SystemExit(f'error: {error}') from None
    check_report_paths(args)
    report = benchmark(args.settings)
    report['settings']['command'] = ' '.join(sys.argv)
    text = write_report(
        report,
        json_path=args.json,
        md_path=args.md,
        accuracy=accuracy,
        plot_path=args.plot)
    if report.get('plot_error'):
        print(f"no plot: {report['plot_error']}", file=sys.stderr)
    print(text)
    return report


if __name__ == '__main__':
    run_tool(main)
