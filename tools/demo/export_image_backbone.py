#!/usr/bin/env python
"""Export the image backbone of an mmpretrain checkpoint as the demo's
pre-trained image model.

    python tools/demo/export_image_backbone.py SRC OUT

SRC is a checkpoint of configs/demo/pretrain_image_synthetic.py (an
``ImageClassifier`` with a ``ZeroI2VImageViT`` backbone) or its work dir, in
which case the best checkpoint (``best_*.pth``) is taken, else the last one.
OUT gets ``{'state_dict': backbone weights, 'meta': ...}`` with the
backbone's own parameter names (``conv1.weight``, ``transformer.resblocks.
0...``): the file ``ZeroI2VViT(pretrained=OUT)`` loads. The image model has
no temporal embedding, so the video model keeps its zero-initialised one.
"""
import argparse
import glob
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

from zeroi2v_mm.utils.checkpoint import load_checkpoint_file

PREFIX = 'backbone.'


def find_checkpoint(src: str) -> str:
    """``src`` itself, or the best (else last) checkpoint of a work dir."""
    if osp.isfile(src):
        return src
    if not osp.isdir(src):
        raise FileNotFoundError(f'{src}: no such checkpoint or work dir')
    best = sorted(glob.glob(osp.join(src, 'best_*.pth')), key=osp.getmtime)
    if best:
        return best[-1]
    last = osp.join(src, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            path = f.read().strip()
        if osp.isfile(path):
            return path
    epochs = sorted(glob.glob(osp.join(src, 'epoch_*.pth')), key=osp.getmtime)
    if epochs:
        return epochs[-1]
    raise FileNotFoundError(f'{src}: no checkpoint (best_*.pth, '
                            'last_checkpoint or epoch_*.pth) in this work dir')


def export(src: str, out: str) -> dict:
    """Write the backbone of ``src`` to ``out``; return its state dict."""
    path = find_checkpoint(src)
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint)
    backbone = {
        k[len(PREFIX):]: v
        for k, v in state.items() if k.startswith(PREFIX)
    }
    if 'conv1.weight' not in backbone:
        raise ValueError(f'{path}: no {PREFIX}conv1.weight; not a checkpoint '
                         'of an ImageClassifier with a ZeroI2VImageViT '
                         'backbone')
    if 'temporal_embedding' in backbone:
        raise ValueError(f'{path}: the backbone has a temporal embedding; an '
                         'image model (ZeroI2VImageViT) has none')
    meta = dict(
        source=osp.abspath(path),
        epoch=checkpoint.get('meta', {}).get('epoch'),
        note='ZeroI2VImageViT backbone exported by '
        'tools/demo/export_image_backbone.py')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(state_dict=backbone, meta=meta), out)
    print(f'{out}: {len(backbone)} backbone tensors '
          f'({sum(v.numel() for v in backbone.values())} values) from {path}')
    return backbone


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='mmpretrain checkpoint or its work dir')
    parser.add_argument('out', help='output weights file')
    args = parser.parse_args(argv)
    try:
        export(args.src, args.out)
    except (FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
