"""Write a ready ZeroI2VViT backbone checkpoint from a supported weights file.

    python tools/convert_weights.py SRC OUT [--force]

SRC: an OpenAI CLIP JIT archive (``ViT-B-16.pt``), an open_clip checkpoint or
state dict (whole CLIP model or its visual tower), a timm VisionTransformer
state dict (e.g. ``vit_base_patch16_224.augreg_in21k`` saved with
``torch.save(model.state_dict(), SRC)``), an mmpretrain VisionTransformer
checkpoint (``backbone.*`` keys), or an MMEngine checkpoint of a ZeroI2VViT /
recognizer. OUT: an MMEngine-style checkpoint (``{'meta': ..., 'state_dict':
...}``) holding only the image ViT in backbone names, CLIP's ``proj`` and
timm's / mmpretrain's classifier heads dropped; use it as
``backbone.pretrained``. The architecture, ``style`` and ``layer_scale``
read off the weights are stored in ``meta`` and printed: set them in the
config's ``model.backbone``.
"""
import argparse
import os.path as osp

from zeroi2v_mm.models.utils.weight_formats import (detect_format,
                                                    weights_layout)
from zeroi2v_mm.models.utils.weights import (check_pretrained_file,
                                             read_state_dict, to_backbone_keys)
from zeroi2v_mm.utils import atomic_save_checkpoint
from zeroi2v_mm.utils.io import OutputPathError, check_output


def infer_arch(state: dict) -> dict:
    """Width, depth, patch and image size read off the tensor shapes.

    Heads cannot be read off the weights; CLIP, timm and mmpretrain ViTs
    (Ti/S/B/L) use 64-wide heads."""
    width, _, patch_size, _ = state['conv1.weight'].shape
    grid = int(round((state['positional_embedding'].shape[0] - 1)**0.5))
    layers = len({
        key.split('.')[2]
        for key in state if key.startswith('transformer.resblocks.')
    })
    return dict(
        width=width,
        layers=layers,
        heads=width // 64,
        patch_size=patch_size,
        image_size=grid * patch_size)


def backbone_settings(raw: dict, state: dict) -> dict:
    """``style`` and ``layer_scale`` of ``model.backbone`` for the weights:
    the library's name for timm / mmpretrain files, else from the layout."""
    layout = weights_layout(state)
    if raw and all(key.startswith('module.') for key in raw):  # from DDP
        raw = {key[len('module.'):]: value for key, value in raw.items()}
    style = detect_format(raw) or layout['layout'] or 'clip'
    if style == 'timm' and layout['layout'] == 'clip':
        style = 'clip'  # a timm CLIP ViT (norm_pre, no patch bias)
    if style == 'mmpretrain' and layout['layout'] == 'clip':
        style = 'clip'  # an mmpretrain CLIP ViT (pre_norm)
    gammas = [
        value for key, value in state.items() if key.endswith('.ls_1.gamma')
    ]
    # any number works (the file brings the trained gammas); the mean of
    # the first block's is a readable reminder of the scale
    layer_scale = round(float(gammas[0].float().mean()), 6) if gammas \
        else None
    return dict(style=style, layer_scale=layer_scale)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='weights file to convert')
    parser.add_argument('out', help='backbone checkpoint to write')
    parser.add_argument(
        '--force', action='store_true', help='overwrite OUT if it exists')
    args = parser.parse_args(argv)
    try:
        check_output(
            args.out, [('the input weights', args.src)],
            force=args.force,
            option='OUT')
    except OutputPathError as error:
        raise SystemExit(f'error: {error}') from None
    src = check_pretrained_file(args.src)
    raw = read_state_dict(src)
    state = to_backbone_keys(raw, src)
    arch = infer_arch(state)
    settings = backbone_settings(raw, state)
    atomic_save_checkpoint(
        dict(
            meta=dict(source=osp.abspath(args.src), arch=arch, **settings),
            state_dict=state), args.out)
    print(f'wrote {args.out}: {len(state)} tensors, arch {arch}, '
          f"style={settings['style']!r}, "
          f"layer_scale={settings['layer_scale']!r}")


if __name__ == '__main__':
    main()
