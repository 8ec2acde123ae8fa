"""Export a trained recognizer (merged: the plain image ViT + STDHA) to ONNX,
TorchScript or a ``torch.export`` program, and check it against PyTorch.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx
        [--shape N T H W] [--verify] [--video VIDEO] [--tolerance 1e-4]
        [--exporter torchscript|dynamo]
        [--format onnx|torchscript|exported_program]
        [--opset N] [--merge-tolerance 1e-4] [--force] [--cfg-options k=v ...]
    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --check FILE.onnx
        [--video VIDEO] [--shape N T H W] [--tolerance 1e-4]

The exported network takes ``(N, 3, T, H, W)`` float RGB pixels 0..255 (what
the config's test pipeline packs; N is dynamic) and returns ``(N, classes)``
logits of each view (normalisation, backbone and head inside). An unmerged
checkpoint is merged first, and the merge verified. ``--verify`` runs the
written file (onnxruntime for ONNX) on random clips (batch N and N + 1) and on
a real decoded clip (``--video``, else the first clip of the config's test
set when it is on disk) and exits non-zero (the file is then removed) when the
largest logit difference exceeds ``--tolerance``. ``--check FILE`` verifies an
existing file against CONFIG + CHECKPOINT without exporting. Details and
measurements: docs/deployment.md.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import DictAction

import zeroi2v_mm  # noqa: F401  (registries and stack fixes, before building)
from zeroi2v_mm.analysis import view_shape
from zeroi2v_mm.deployment import (DeployedRecognizer, ExportVerificationError,
                                   decode_video, export_model,
                                   load_deployable_model, onnx_node_counts,
                                   verify_exported)
from zeroi2v_mm.deployment.export import (FORMATS, ONNX_EXPORTERS,
                                          first_test_clip, format_of,
                                          random_clips)
from zeroi2v_mm.reparam import MergeVerificationError
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
        type=int,
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
    parser.add_argument('--opset', type=int, default=None)
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


def main(argv=None) -> int:
    args = parse_args(argv)
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
    sys.exit(main())
