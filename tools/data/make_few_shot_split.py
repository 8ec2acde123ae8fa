"""Write a K-shot training subset of an MMAction2 annotation file.

    python tools/data/make_few_shot_split.py ANN_FILE --shots K --seed S \\
        --out OUT_FILE [--format auto|video|rawframes|json] [--force]

Exactly K entries of every class of ANN_FILE (``path label``,
``path total_frames label`` or MMAction2's JSON list), chosen with seed S (the
same S gives the same subset), in ANN_FILE's format; and OUT_manifest.json
next to it (source file and sha256, K, seed, per-class counts, the chosen
entries). A class with fewer than K entries is refused, by name and count;
existing outputs are kept unless --force; both files are written atomically.
See docs/en/user_guides/few_shot.md; the logic is zeroi2v_mm/datasets/few_shot.py.
"""
import argparse

from zeroi2v_mm.datasets.few_shot import (FORMATS, FewShotError,
                                          make_few_shot_split,
                                          manifest_path_of)
from zeroi2v_mm.utils.cli import run_tool


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a K-shot (K per class) subset of an MMAction2 '
        'recognition annotation file, with a manifest')
    parser.add_argument('ann_file', help='annotation file (txt or json)')
    parser.add_argument(
        '--shots',
        type=int,
        required=True,
        metavar='K',
        help='entries per class')
    parser.add_argument(
        '--seed',
        type=int,
        required=True,
        metavar='S',
        help='random seed (same seed, same subset)')
    parser.add_argument(
        '--out',
        required=True,
        metavar='OUT_FILE',
        help='the subset to write; the manifest goes to '
        'OUT_manifest.json')
    parser.add_argument(
        '--format',
        default='auto',
        choices=FORMATS,
        help='annotation format (default: auto)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='overwrite existing outputs (never the input)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        manifest = make_few_shot_split(
            args.ann_file,
            args.out,
            args.shots,
            args.seed,
            fmt=args.format,
            force=args.force)
    except (FewShotError, OSError) as error:
        raise SystemExit(f'error: {error}') from None
    print(f"{manifest['num_entries']} entries ({manifest['shots']} per class "
          f"x {manifest['classes_present']} classes, seed {manifest['seed']}) "
          f'-> {args.out}\nmanifest: {manifest_path_of(args.out)}\n'
          f"num_classes (largest label + 1): {manifest['num_classes']}")
    return 0


if __name__ == '__main__':
    run_tool(main)
