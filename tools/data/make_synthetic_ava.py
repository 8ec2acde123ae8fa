#!/usr/bin/env python
"""Write a tiny synthetic dataset in AVA's format (rawframes, annotations,
proposals, label map) for end-to-end tests of spatio-temporal action
detection on a CPU.

    python tools/data/make_synthetic_ava.py --out data/synthetic_ava
        [--train-videos N] [--val-videos N] [--actors N] [--size S]
        [--fps FPS] [--seconds S] [--seed SEED]

What it renders and the layout: :mod:`zeroi2v_mm.testing.synthetic_ava`.
"""
import argparse
import sys
from typing import Optional, Sequence

from zeroi2v_mm.testing.synthetic_ava import DEFAULTS, make_dataset
from zeroi2v_mm.utils.cli import run_tool
from zeroi2v_mm.utils.io import OutputPathError, check_output_dir


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a tiny synthetic AVA-format dataset')
    parser.add_argument('--out', required=True, help='output directory')
    for name in ('train_videos', 'val_videos', 'actors', 'size', 'fps',
                 'seconds', 'seed'):
        parser.add_argument(
            '--' + name.replace('_', '-'),
            type=int,
            default=DEFAULTS[name],
            help=f'default {DEFAULTS[name]}')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = vars(parse_args(argv))
    out = args.pop('out')
    try:
        check_output_dir(out)
    except OutputPathError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    counts = make_dataset(out, **args)
    for split, numbers in counts.items():
        print(f'{split}: ' + ', '.join(f'{v} {k}' for k, v in numbers.items()))
    print(f'written to {out}')
    return 0


if __name__ == '__main__':
    run_tool(main)
