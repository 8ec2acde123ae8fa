"""Classify one video with an exported ONNX model (fp32, int8 or fp16) in
onnxruntime, reading it as ``mim test`` and MMAction2's
``inference_recognizer`` do.

    python tools/deployment/infer_onnx.py CONFIG MODEL.onnx VIDEO [--topk 5]
        [--threads N] [--cfg-options k=v ...]

The video is decoded, sampled and resized by CONFIG's test pipeline (every
view of it: ``zeroi2v_mm.deployment.clips.iter_clips``); the network's logits
of the views are averaged as the config's head does (``average_clips``:
``'prob'`` averages softmax probabilities, ``'score'`` the logits). Printed:
the top-k class ids and scores, one per line, ``RANK CLASS_ID SCORE``.
MODEL.onnx is what ``tools/deployment/export_onnx.py`` writes.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction

import zeroi2v_mm  # noqa: F401  (registries and stack fixes)
from zeroi2v_mm.deployment.clips import iter_clips
from zeroi2v_mm.utils.cli import run_tool


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        'config',
        help='the config the model was trained '
        'with (its test pipeline reads the video)')
    parser.add_argument('model', help='an ONNX file of export_onnx.py')
    parser.add_argument('video')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument(
        '--threads', type=int, default=None, help='onnxruntime threads')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def average_views(logits: torch.Tensor, how: Optional[str]) -> torch.Tensor:
    """``(V, classes)`` logits of a clip's views -> ``(classes,)`` scores,
    as MMAction2's ``BaseHead.average_clip`` does for one clip."""
    if how == 'prob':
        return logits.softmax(-1).mean(0)
    if how in ('score', None):
        return logits.mean(0)
    raise ValueError(f'model.cls_head.average_clips={how!r}: expected '
                     "'prob', 'score' or None")


def predict(cfg: Config,
            model: str,
            video: str,
            threads: Optional[int] = None) -> torch.Tensor:
    """The ``(classes,)`` scores of ``video`` by the ONNX file ``model``."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        model, options, providers=['CPUExecutionProvider'])
    (clip, ) = iter_clips(cfg, video=video)
    logits = session.run(
        None,
        {session.get_inputs()[0].name: clip.inputs.numpy().astype(np.float32)
         })[0]
    head = cfg.model.get('cls_head') or {}
    return average_views(
        torch.from_numpy(logits), head.get('average_clips', 'prob'))


def top_k(scores: torch.Tensor, k: int) -> List[Tuple[int, float]]:
    values, indices = scores.topk(min(k, scores.numel()))
    return [(int(i), float(v)) for i, v in zip(indices, values)]


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.model):
        print(f'infer_onnx: model not found: {args.model}', file=sys.stderr)
        return 1
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        scores = predict(cfg, args.model, args.video, args.threads)
    except (FileNotFoundError, ValueError) as error:
        print(f'infer_onnx: {error}', file=sys.stderr)
        return 1
    for rank, (label, score) in enumerate(top_k(scores, args.topk), 1):
        print(f'{rank} {label} {score:.6f}')
    return 0


if __name__ == '__main__':
    run_tool(main)
