"""Export a trained recognizer (merged: the plain image ViT + STDHA) to ONNX,
TorchScript or a ``torch.export`` program, and check it against PyTorch.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx
        [--shape N T H W] [--verify] [--video VIDEO] [--tolerance 1e-4]
        [--exporter torchscript|dynamo]
        [--format onnx|torchscript|exported_program]
        [--opset N] [--merge-tolerance 1e-4] [--force] [--cfg-options k=v ...]
    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --check FILE.onnx
        [--video VIDEO] [--shape N T H W] [--tolerance 1e-4]
    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx
        --quantize int8|fp16 [--calib-config CFG] [--calib-clips N]
        [--calib-ann-file LIST] [--calib-random N]
        [--keep-float GROUP ...] [--verify] [--verify-clips N]
        [--min-agreement 0.99]

The exported network takes ``(N, 3, T, H, W)`` float RGB pixels 0..255 (what
the config's test pipeline packs; N is dynamic) and returns ``(N, classes)``
logits of each view (normalisation, backbone and head inside). An unmerged
checkpoint is merged first, and the merge verified. ``--verify`` runs the
written file (onnxruntime for ONNX) on random clips (batch N and N + 1) and on
a real decoded clip (``--video``, else the first clip of the config's test
set when it is on disk) and exits non-zero (the file is then removed) when the
largest logit difference exceeds ``--tolerance``. ``--check FILE`` verifies an
existing file against CONFIG + CHECKPOINT without exporting.

``--quantize int8`` writes an int8 ONNX file made by onnxruntime's
quantization: static QDQ calibrated on ``--calib-clips`` clips of the test set
of ``--calib-config`` (default CONFIG; ``--calib-ann-file`` reads another
annotation list, e.g. the training clips, with the same test pipeline), or
dynamic quantization when there are no clips (``--calib-clips 0``, or the data
is not on disk). ``--quantize fp16`` converts the graph to float16 and checks
every intermediate tensor for overflow on the verification clips. With
``--verify`` the float32 graph is first verified as above, then the converted
file is compared with PyTorch on ``--verify-clips`` clips of the test set
(``--video``: that one video): below ``--min-agreement`` top-1 agreement
(default 0.99) it exits 1 and writes nothing; otherwise ``--out`` and its
report ``--out`` + ``.report.json`` are written. Details and measurements:
docs/en/user_guides/deployment.md.
"""
import argparse
import copy
import itertools
import json
import os
import os.path as osp
import sys
import tempfile

from mmengine.config import Config, DictAction
from torch.onnx._constants import ONNX_MAX_OPSET, ONNX_MIN_OPSET

import zeroi2v_mm  # noqa: F401  (registries and stack fixes, before building)
from zeroi2v_mm.deployment import (DeployedRecognizer, ExportVerificationError,
                                   decode_video, export_model,
                                   load_deployable_model, onnx_node_counts,
                                   verify_exported)
from zeroi2v_mm.deployment.clips import iter_clips
from zeroi2v_mm.deployment.export import (FORMATS, ONNX_EXPORTERS,
                                          first_test_clip, format_of,
                                          random_clips)
from zeroi2v_mm.deployment.quantize import (DEFAULT_KEEP_FLOAT, FP16_MAX,
                                            KEEP_FLOAT_GROUPS,
                                            activation_peaks, convert_fp16,
                                            quantize_int8, verify_quantized)
from zeroi2v_mm.reparam import MergeVerificationError
from zeroi2v_mm.utils.cli import positive_int, run_tool
from zeroi2v_mm.utils.complexity import view_shape
from zeroi2v_mm.utils.io import OutputPathError, check_output, run_inputs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a zeroi2v_mm recognizer (merged) to ONNX / '
        'TorchScript / torch.export and verify it against PyTorch')
    parser.add_argument(
        'config',
        help='the config the checkpoint was '
        'trained with (or its _merged variant)')
    parser.add_argument('checkpoint', help='merged or unmerged checkpoint')
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        '--out',
        help='file to write (.onnx, .pt for '
        'TorchScript, .pt2 for torch.export)')
    target.add_argument(
        '--check',
        metavar='FILE',
        help='verify an existing '
        'exported file instead of exporting')
    parser.add_argument(
        '--shape',
        type=positive_int,
        nargs=4,
        metavar=('N', 'T', 'H', 'W'),
        help='example input (default: 2 clips of the '
        "backbone's frames and image size); N >= 2")
    parser.add_argument(
        '--format',
        choices=FORMATS,
        default=None,
        help='default: from the --out extension')
    parser.add_argument(
        '--exporter',
        choices=ONNX_EXPORTERS,
        default='torchscript',
        help='ONNX exporter: '
        'torch.onnx.export(dynamo=False) (default) or the '
        'dynamo exporter')
    parser.add_argument(
        '--opset',
        type=int,
        default=None,
        help=f'ONNX opset, {ONNX_MIN_OPSET}..{ONNX_MAX_OPSET} (default: '
        "the exporter's)")
    parser.add_argument(
        '--verify',
        action='store_true',
        help='run the written file and compare with PyTorch')
    parser.add_argument(
        '--video',
        help='a real video for --verify/--check '
        "(decoded by the config's test pipeline)")
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='largest accepted max-abs logit difference')
    parser.add_argument(
        '--merge-tolerance',
        type=float,
        default=1e-4,
        help='largest accepted max-abs logit difference '
        'between merged and unmerged PyTorch models')
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing --out')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    convert = parser.add_argument_group('int8 / fp16 (--quantize; ONNX only)')
    convert.add_argument(
        '--quantize',
        choices=['int8', 'fp16'],
        default=None,
        help='write an int8 (onnxruntime quantization) or float16 file')
    convert.add_argument(
        '--calib-config',
        default=None,
        help="config whose test dataloader gives the calibration clips "
        '(default: CONFIG with --cfg-options)')
    convert.add_argument(
        '--calib-clips',
        type=int,
        default=32,
        help='calibration clips, spread over the test set (default 32); 0: '
        'dynamic quantization, no data')
    convert.add_argument(
        '--calib-ann-file',
        default=None,
        help="annotation list for calibration instead of the config's "
        'test one (e.g. the training list; decoded by the test pipeline)')
    convert.add_argument(
        '--calib-random',
        type=int,
        default=None,
        metavar='N',
        help='calibrate on N random-pixel clips of the export shape instead '
        'of real ones (latency benchmarks without data)')
    convert.add_argument(
        '--keep-float',
        nargs='*',
        choices=KEEP_FLOAT_GROUPS,
        default=None,
        help='what stays float in int8 (default: all groups; see '
        'docs/en/user_guides/deployment.md); give none for "quantize '
        'everything onnxruntime can"')
    convert.add_argument(
        '--verify-clips',
        type=int,
        default=100,
        help='test-set clips the converted file is compared with PyTorch on '
        '(default 100; all: a large number)')
    convert.add_argument(
        '--min-agreement',
        type=float,
        default=0.99,
        help='smallest accepted top-1 agreement with PyTorch, 0..1 (default '
        '0.99)')
    return parser.parse_args(argv)


def verification_inputs(cfg, model, shape, video):
    """{description: clips}: random clips at two batch sizes and a real clip
    (``video``, or the first clip of the config's test set if on disk)."""
    inputs = {
        f'random clips, batch {shape[0]}':
        random_clips(shape, seed=0),
        f'random clips, batch {shape[0] + 1}':
        random_clips((shape[0] + 1, ) + tuple(shape[1:]), seed=1)
    }
    if video:
        inputs[f'decoded {video}'] = decode_video(cfg, video)
    else:
        found = first_test_clip(cfg)
        if found is None:
            print(
                'note: no --video and the test set is not on disk: '
                'verified on random clips only',
                file=sys.stderr)
        else:
            clips, source = found
            inputs[f'decoded {source}'] = clips
    return inputs


def calibration_clips(args, cfg, shape):
    """Clips ``(V, 3, T, H, W)`` to calibrate int8 on, or None (dynamic
    quantization): ``--calib-random`` random clips, else ``--calib-clips``
    clips of the calibration config's test set (None when 0 or not on
    disk)."""
    if args.calib_random:
        return [
            random_clips(shape, seed=100 + i) for i in range(args.calib_random)
        ]
    if args.calib_clips <= 0:
        return None
    calib_cfg = Config.fromfile(args.calib_config) if args.calib_config \
        else cfg
    if args.calib_ann_file:
        calib_cfg = copy.deepcopy(calib_cfg)
        calib_cfg.test_dataloader.dataset.ann_file = args.calib_ann_file
    try:
        clips = iter_clips(calib_cfg, max_clips=args.calib_clips)
        first = next(clips)
    except (FileNotFoundError, StopIteration) as error:
        print(
            f'note: no calibration clips ({error or "empty test set"}): '
            'dynamic int8 quantization instead of static',
            file=sys.stderr)
        return None
    return itertools.chain([first.inputs], (clip.inputs for clip in clips))


def converted_verification_clips(args, cfg, shape):
    """What an int8 / fp16 file is compared with PyTorch on: ``--video``,
    else ``--verify-clips`` clips of the test set, else random clips."""
    if args.video:
        return list(iter_clips(cfg, video=args.video))
    try:
        return list(iter_clips(cfg, max_clips=args.verify_clips))
    except FileNotFoundError as error:
        print(
            f'note: {error}; verifying on 8 random clips only',
            file=sys.stderr)
        return [random_clips(shape, seed=200 + i) for i in range(8)]


def export_converted(args, deployed, cfg, shape) -> int:
    """--quantize: export float32 ONNX to a temporary folder next to --out,
    verify it (--verify), convert it, verify the result against PyTorch on
    clips, and only then move it and its report to --out."""
    out_dir = osp.dirname(osp.abspath(args.out))
    with tempfile.TemporaryDirectory(dir=out_dir, prefix='.export-') as tmp:
        fp32 = osp.join(tmp, 'fp32.onnx')
        export_model(
            deployed,
            fp32,
            random_clips(shape),
            fmt='onnx',
            exporter=args.exporter,
            opset=args.opset)
        report = dict(precision=args.quantize, fp32_bytes=osp.getsize(fp32))
        if args.verify:
            inputs = verification_inputs(cfg, None, shape, args.video)
            try:
                fp32_report = verify_exported(fp32, deployed, inputs,
                                              args.tolerance, 'onnx')
            except ExportVerificationError as error:
                print(
                    f'VERIFICATION FAILED (float32 graph): {error}; '
                    f'{args.out} not written',
                    file=sys.stderr)
                return 1
            report['fp32_verification'] = fp32_report
            print(f"float32 graph verified (max abs logit difference "
                  f"{fp32_report['max_abs_diff']:.3g})")
        converted = osp.join(tmp, 'converted.onnx')
        if args.quantize == 'int8':
            keep = DEFAULT_KEEP_FLOAT if args.keep_float is None else \
                args.keep_float
            report['quantization'] = quantize_int8(
                fp32, converted, calibration_clips(args, cfg, shape), keep)
            q = report['quantization']
            print(f"int8 ({q['mode']}, {q['calibration_clips']} calibration "
                  f"clips, float: {', '.join(keep) or 'nothing'})")
        else:
            report['conversion'] = convert_fp16(fp32, converted)
        report['bytes'] = osp.getsize(converted)
        report['size_ratio'] = report['bytes'] / report['fp32_bytes']
        if args.verify:
            clips = converted_verification_clips(args, cfg, shape)
            if args.quantize == 'fp16':
                peaks = activation_peaks(fp32, (getattr(c, 'inputs', c)
                                                for c in clips))
                report['fp16_overflow_check'] = peaks
                if peaks['overflow']:
                    print(
                        'VERIFICATION FAILED: a tensor of the graph reaches '
                        f"{peaks['max_abs']:.4g} >= the float16 range "
                        f"({peaks['largest'][0]['tensor']}); {args.out} not "
                        'written',
                        file=sys.stderr)
                    return 1
                print(f"fp16 overflow check: largest activation "
                      f"{peaks['max_abs']:.4g} < {FP16_MAX:g}")
            try:
                report['verification'] = verify_quantized(
                    converted,
                    deployed,
                    clips,
                    args.min_agreement,
                    baseline=fp32)
            except ExportVerificationError as error:
                print(f'VERIFICATION FAILED: {error}', file=sys.stderr)
                failed = getattr(error, 'report', None)
                if failed:
                    print(json.dumps(failed, indent=2), file=sys.stderr)
                print(f'{args.out} not written', file=sys.stderr)
                return 1
            v = report['verification']
            print(f"verified on {v['clips']} clips: top-1 agreement "
                  f"{100 * v['top1_agreement']:.1f} % (>= "
                  f"{100 * args.min_agreement:g} %), max abs logit "
                  f"difference {v['max_abs_diff']:.3g}")
        if 'verification' in report:
            report['verification']['file'] = osp.abspath(args.out)
        report_path = args.out + '.report.json'
        with open(osp.join(tmp, 'report.json'), 'w') as file:
            json.dump(report, file, indent=2)
        os.replace(converted, args.out)
        os.replace(osp.join(tmp, 'report.json'), report_path)
    print(f"{args.quantize} file: {osp.abspath(args.out)} "
          f"({report['bytes'] / 1e6:.2f} MB, {report['size_ratio']:.2f} x "
          f'float32); report: {report_path}')
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.opset is not None and not (ONNX_MIN_OPSET <= args.opset <=
                                       ONNX_MAX_OPSET):
        raise SystemExit(f'error: --opset {args.opset}: this torch exports '
                         f'opsets {ONNX_MIN_OPSET} to {ONNX_MAX_OPSET}')
    if args.out is not None:
        try:
            check_output(
                args.out,
                run_inputs(args.config, args.checkpoint, args.cfg_options),
                force=args.force)
        except OutputPathError as error:
            raise SystemExit(f'error: {error}') from None
    path = args.out or args.check
    fmt = args.format or format_of(path)
    if args.check and not osp.isfile(args.check):
        raise SystemExit(f'--check {args.check}: file not found')
    try:
        model, cfg, info = load_deployable_model(args.config, args.checkpoint,
                                                 args.cfg_options,
                                                 args.merge_tolerance)
    except (FileNotFoundError, ValueError, MergeVerificationError) as error:
        raise SystemExit(f'cannot load the model: {error}') from None
    if info['merged_here']:
        report = info['merge_report']
        print(f"merged the checkpoint's adapters: max abs logit difference "
              f"{report['max_abs_diff']:.3g} (tolerance "
              f'{args.merge_tolerance:g})')
    deployed = DeployedRecognizer(model).eval()
    _, frames, height, width = view_shape(model)
    shape = tuple(args.shape) if args.shape else (2, 3, frames, height, width)
    if args.shape:
        shape = (shape[0], 3) + shape[1:]
    if shape[0] < 2:
        raise SystemExit(f'--shape N={shape[0]}: use N >= 2 (a batch of 1 '
                         'would be exported as a constant)')

    if args.quantize:
        if not args.out or fmt != 'onnx':
            raise SystemExit('--quantize needs --out FILE.onnx (ONNX only)')
        return export_converted(args, deployed, cfg, shape)
    if args.out:
        # With --verify the file is written next to --out and only moved
        # there once verified: a failed export never replaces a good file.
        stem, ext = osp.splitext(args.out)
        written = f'{stem}.unverified{ext}' if args.verify else args.out
        export_model(
            deployed,
            written,
            random_clips(shape),
            fmt=fmt,
            exporter=args.exporter,
            opset=args.opset)
        print(f'exported {fmt}' +
              (f' ({args.exporter} exporter)' if fmt == 'onnx' else '') +
              f': {osp.abspath(written)}')
        if fmt == 'onnx':
            counts = onnx_node_counts(written)
            print(f"ONNX nodes: {counts['total']} ({counts['compute']} "
                  'without Constant/Identity)')
        path = written
    if args.verify or args.check:
        inputs = verification_inputs(cfg, model, shape, args.video)
        try:
            report = verify_exported(path, deployed, inputs, args.tolerance,
                                     fmt)
        except ExportVerificationError as error:
            print(f'VERIFICATION FAILED: {error}', file=sys.stderr)
            if args.out:
                os.remove(path)  # never leave a wrong model behind
                print(
                    f'removed {path}; {args.out} not written', file=sys.stderr)
            return 1
        print('verified: ' + json.dumps(report['per_input']) +
              f" (max {report['max_abs_diff']:.3g} <= {args.tolerance:g})")
        if args.out:
            os.replace(path, args.out)
            print(f'verified file: {osp.abspath(args.out)}')
    return 0


if __name__ == '__main__':
    run_tool(main)
