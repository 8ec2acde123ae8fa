"""Write a ready ZeroI2VViT backbone checkpoint from any supported weights file.

    python tools/convert_clip_weights.py SRC OUT [--force]

SRC: an OpenAI CLIP JIT archive (``ViT-B-16.pt``), an open_clip checkpoint or
state dict (whole CLIP model or its visual tower), or an MMEngine checkpoint of
a ZeroI2VViT / recognizer. OUT: an MMEngine-style checkpoint
(``{'meta': ..., 'state_dict': ...}``) holding only the visual tower in
backbone names, CLIP's ``proj`` dropped; use it as ``backbone.pretrained``.
The architecture read off the weights is stored in ``meta`` and printed.
"""
import argparse
import os.path as osp

from zeroi2v_mm.models.utils.weights import load_backbone_weights
from zeroi2v_mm.utils import atomic_save_checkpoint


def infer_arch(state: dict) -> dict:
    """Width, depth, patch and image size read off the tensor shapes.

    Heads cannot be read off the weights; CLIP ViTs use 64-wide heads."""
    width, _, patch_size, _ = state['conv1.weight'].shape
    grid = int(round((state['positional_embedding'].shape[0] - 1)**0.5))
    layers = len({key.split('.')[2] for key in state
                  if key.startswith('transformer.resblocks.')})
    return dict(width=width, layers=layers, heads=width // 64,
                patch_size=patch_size, image_size=grid * patch_size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='weights file to convert')
    parser.add_argument('out', help='backbone checkpoint to write')
    parser.add_argument('--force', action='store_true',
                        help='overwrite OUT if it exists')
    args = parser.parse_args()
    if osp.exists(args.out) and not args.force:
        raise SystemExit(f'{args.out} exists; pass --force to overwrite it')
    state = load_backbone_weights(args.src)
    arch = infer_arch(state)
    atomic_save_checkpoint(
        dict(meta=dict(source=osp.abspath(args.src), arch=arch),
             state_dict=state), args.out)
    print(f'wrote {args.out}: {len(state)} tensors, arch {arch}')


if __name__ == '__main__':
    main()
