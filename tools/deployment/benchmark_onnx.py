"""Latency of a deployed (merged) ZeroI2V model against the plain image ViT,
in onnxruntime and in PyTorch, in one run.

    python tools/deployment/benchmark_onnx.py CONFIG [--checkpoint CKPT]
        [--exporter torchscript|dynamo] [--batch 1] [--rounds 7] [--warmup 2]
        [--threads N] [--precisions fp32 [int8] [fp16]] [--calib-clips 8]
        [--no-pytorch] [--json OUT.json] [--cfg-options k=v ...]

CONFIG's merged model (``adapters=None``; random weights unless
``--checkpoint``, latency does not depend on them) and its plain model (the
same with ``stdha=None``: the image ViT with its T x D temporal embedding) are
exported to ONNX (``tools/deployment/export_onnx.py``'s code, dynamic batch),
checked in onnxruntime against PyTorch (max abs logit difference), and then
timed on one clip (``--batch`` views) in rounds: every round runs the four
(onnxruntime merged / plain, PyTorch merged / plain) once, in an order that
rotates, so that load from other processes hits all alike. Reported: medians
over the rounds, and merged / plain as the median of the per-round ratios.
ONNX node counts of both graphs are reported too.

``--precisions fp32 int8`` adds the int8 versions of both graphs
(``zeroi2v_mm.deployment.quantize.quantize_int8``: static QDQ, what
``export_onnx.py --quantize int8`` writes, calibrated here on
``--calib-clips`` random-pixel clips: latency does not depend on the
calibration), timed in the same rounds; ``fp16`` likewise (a GPU provider is
needed for it to be fast). Reported for them: ``int8_over_fp32`` per graph
and ``merged_over_plain`` per precision, file sizes, and the largest logit
difference to PyTorch. ``--no-pytorch`` leaves PyTorch eager out of the
rounds. ``--provider cuda`` times the files with onnxruntime's CUDA provider
(``tools/benchmark_gpu.sh`` does, for fp32 vs fp16).
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import tempfile
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import zeroi2v_mm  # noqa: F401
from zeroi2v_mm.deployment import (DeployedRecognizer, export_model,
                                   load_deployable_model, onnx_node_counts,
                                   run_exported)
from zeroi2v_mm.deployment.export import random_clips
from zeroi2v_mm.deployment.quantize import (DEFAULT_KEEP_FLOAT, convert_fp16,
                                            quantize_int8)
from zeroi2v_mm.reparam import merged_config
from zeroi2v_mm.utils.cli import merge_cfg_options, run_tool
from zeroi2v_mm.utils.complexity import view_shape
from zeroi2v_mm.utils.io import (OutputPathError, atomic_write_text,
                                 check_output, run_inputs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights (default: random)')
    parser.add_argument(
        '--exporter', choices=['torchscript', 'dynamo'], default='torchscript')
    parser.add_argument(
        '--batch',
        type=int,
        default=1,
        help='views per timed call (default 1)')
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch and onnxruntime intra-op threads')
    parser.add_argument(
        '--precisions',
        nargs='+',
        choices=['fp32', 'int8', 'fp16'],
        default=['fp32'],
        help='ONNX files to time (fp32 always; default: fp32 only)')
    parser.add_argument(
        '--calib-clips',
        type=int,
        default=8,
        help='random-pixel clips to calibrate int8 on (default 8)')
    parser.add_argument(
        '--provider',
        choices=['cpu', 'cuda'],
        default='cpu',
        help="onnxruntime's execution provider for the timed runs (cuda "
        'needs the onnxruntime-gpu build)')
    parser.add_argument(
        '--no-pytorch',
        action='store_true',
        help='time onnxruntime only (not PyTorch eager)')
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def build_pair(cfg, checkpoint):
    """The deployed (merged) model and the plain ViT with the same weights."""
    from mmaction.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    if checkpoint:
        merged, cfg, _ = load_deployable_model(cfg, checkpoint)
    else:
        cfg = merged_config(cfg)
        cfg.model.backbone.pretrained = None
        torch.manual_seed(0)
        merged = MODELS.build(cfg.model)
    plain_cfg = copy.deepcopy(cfg)
    plain_cfg.model.backbone.stdha = None
    plain = MODELS.build(plain_cfg.model)
    plain.load_state_dict(merged.state_dict())  # STDHA has no parameters
    return dict(
        merged=DeployedRecognizer(merged.eval()).eval(),
        plain=DeployedRecognizer(plain.eval()).eval())


def ort_session(path, threads, provider='cpu'):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    wanted = dict(
        cpu='CPUExecutionProvider', cuda='CUDAExecutionProvider')[provider]
    if wanted not in onnxruntime.get_available_providers():
        raise SystemExit(f'--provider {provider}: this onnxruntime has '
                         f'{onnxruntime.get_available_providers()} (for '
                         'cuda install onnxruntime-gpu of the same version)')
    session = onnxruntime.InferenceSession(path, options, providers=[wanted])
    name = session.get_inputs()[0].name
    return lambda clips: session.run(None, {name: clips})[0]


def main(argv=None):
    args = parse_args(argv)
    if args.json:
        # A report, regenerated on every run: an existing one is replaced
        # (atomically), an input never.
        try:
            check_output(
                args.json,
                run_inputs(args.config, args.checkpoint, args.cfg_options),
                force=True,
                option='--json')
        except OutputPathError as error:
            raise SystemExit(f'error: {error}') from None
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    models = build_pair(cfg, args.checkpoint)
    shape = view_shape(models['merged'].recognizer)
    clips = random_clips((args.batch, ) + shape, seed=0)
    export_clips = random_clips((2, ) + shape, seed=1)
    report = dict(
        config=args.config,
        exporter=args.exporter,
        input_shape=list(clips.shape),
        rounds=args.rounds,
        precisions=args.precisions,
        provider=args.provider,
        warmup=args.warmup,
        threads=args.threads or torch.get_num_threads(),
        machine=dict(
            cpu=platform.processor() or platform.machine(),
            torch=torch.__version__),
        load_average_before=os.getloadavg(),
        graphs={})
    calls = {}
    precisions = ['fp32'] + [p for p in args.precisions if p != 'fp32']
    calib = [
        random_clips((2, ) + shape, seed=10 + i)
        for i in range(args.calib_clips)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            path = osp.join(tmp, f'{name}.onnx')
            start = time.perf_counter()
            export_model(model, path, export_clips, exporter=args.exporter)
            with torch.no_grad():
                want = model(clips)
            for precision in precisions:
                # fp32 keeps its historical keys (merged / plain)
                key = name if precision == 'fp32' else f'{precision}_{name}'
                file = path
                if precision == 'int8':
                    file = osp.join(tmp, f'{key}.onnx')
                    quantize_int8(path, file, calib, DEFAULT_KEEP_FLOAT)
                elif precision == 'fp16':
                    file = osp.join(tmp, f'{key}.onnx')
                    convert_fp16(path, file)
                got = run_exported(file, clips)
                report['graphs'][key] = dict(
                    nodes=onnx_node_counts(file),
                    bytes=osp.getsize(file),
                    export_seconds=round(time.perf_counter() - start, 1),
                    max_abs_diff_vs_pytorch=float((got - want).abs().max()))
                run = ort_session(file, args.threads, args.provider)
                numpy_clips = clips.numpy()
                calls[f'onnxruntime_{key}'] = \
                    lambda run=run: run(numpy_clips)
            if args.no_pytorch:
                continue

            def torch_call(model=model):
                with torch.inference_mode():
                    return model(clips)

            calls[f'pytorch_{name}'] = torch_call
        times = {key: [] for key in calls}
        names = list(calls)
        for round_index in range(args.warmup + args.rounds):
            shift = round_index % len(names)
            order = names[shift:] + names[:shift]
            if round_index % 2:
                order.reverse()
            for key in order:
                start = time.perf_counter()
                calls[key]()
                if round_index >= args.warmup:
                    times[key].append(time.perf_counter() - start)
    report['load_average_after'] = os.getloadavg()
    report['seconds'] = {
        key: dict(median=statistics.median(v), min=min(v), max=max(v))
        for key, v in times.items()
    }

    def ratio(top, bottom):
        return statistics.median(a / b
                                 for a, b in zip(times[top], times[bottom]))

    runtimes = [
        f'onnxruntime_{p}_' if p != 'fp32' else 'onnxruntime_'
        for p in precisions
    ]
    if not args.no_pytorch:
        runtimes.append('pytorch_')
    report['merged_over_plain'] = {
        prefix.rstrip('_'): ratio(f'{prefix}merged', f'{prefix}plain')
        for prefix in runtimes
    }
    if not args.no_pytorch:
        report['onnxruntime_over_pytorch'] = {
            name: ratio(f'onnxruntime_{name}', f'pytorch_{name}')
            for name in models
        }
    for precision in precisions[1:]:
        report[f'{precision}_over_fp32'] = {
            name: ratio(f'onnxruntime_{precision}_{name}',
                        f'onnxruntime_{name}')
            for name in models
        }
        report[f'{precision}_size_over_fp32'] = {
            name:
            report['graphs'][f'{precision}_{name}']['bytes'] /
            report['graphs'][name]['bytes']
            for name in models
        }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        atomic_write_text(text + '\n', args.json)
    return 0


if __name__ == '__main__':
    run_tool(main)
