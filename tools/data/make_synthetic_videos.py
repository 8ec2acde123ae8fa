#!/usr/bin/env python
"""Write the synthetic action-recognition dataset of time-reversed class
pairs (MMAction2 VideoDataset format), optionally with the still-image set
for image pretraining (mmpretrain CustomDataset format).

    python tools/data/make_synthetic_videos.py --out data/synthetic \
        [--images-per-class 120] [--videos-per-class N] [--val-per-class N]
        [--frames F] [--size S] [--fps FPS] [--seed SEED] [--workers N]

The renderer and the layout it writes are
:mod:`zeroi2v_mm.testing.synthetic_videos`; this is its command line.
Exit code 2 with a message when the output directory holds something else.
"""
import argparse
import os
import sys
from typing import Optional, Sequence

from zeroi2v_mm.testing.synthetic_videos import (DEFAULTS,
                                                 OutputDirectoryConflictError,
                                                 make_dataset)
from zeroi2v_mm.utils.cli import run_tool
from zeroi2v_mm.utils.io import OutputPathError, check_output_dir


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument(
        '--videos-per-class',
        type=int,
        default=DEFAULTS['videos_per_class'],
        help='training videos per class')
    parser.add_argument(
        '--val-per-class',
        type=int,
        default=DEFAULTS['val_per_class'],
        help='validation videos per class')
    parser.add_argument(
        '--frames',
        type=int,
        default=DEFAULTS['frames'],
        help='frames per video')
    parser.add_argument(
        '--size',
        type=int,
        default=DEFAULTS['size'],
        help='frame height and width in pixels (even, >= 32)')
    parser.add_argument(
        '--fps',
        type=float,
        default=DEFAULTS['fps'],
        help='frame rate stored in the mp4 files')
    parser.add_argument(
        '--seed',
        type=int,
        default=DEFAULTS['seed'],
        help='non-negative seed; same seed, same dataset')
    parser.add_argument(
        '--images-per-class',
        type=int,
        default=DEFAULTS['images_per_class'],
        help='training still images per image class '
        '(shape x 3 x 3 grid cell: 36 classes) for image '
        'pretraining (validation gets max(1, K // 5)); '
        '0 writes no image set')
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='processes that render and encode (default: '
        'one per CPU core); the dataset does not depend on '
        'it')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_output_dir(args.out)
        make_dataset(
            args.out,
            videos_per_class=args.videos_per_class,
            val_per_class=args.val_per_class,
            frames=args.frames,
            size=args.size,
            fps=args.fps,
            seed=args.seed,
            images_per_class=args.images_per_class,
            workers=args.workers)
    except (OutputDirectoryConflictError, OutputPathError, ValueError,
            RuntimeError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    run_tool(main)
