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
from zeroi2v_mm.utils.cli import run_tool
from zeroi2v_mm.utils.io import OutputPathError, check_output

REQUIRED = ('conv1.weight', 'positional_embedding', 'class_embedding')


def check_consistent_vit(state: dict) -> None:
    """Every block of one width with the same tensors; see infer_arch."""
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise ValueError(
            f'not a ViT: no {", ".join(missing)} (found e.g. '
            f'{", ".join(list(state)[:3])}); convert_weights.py converts '
            'CLIP, timm and mmpretrain ViTs')
    width = state['conv1.weight'].shape[0]
    blocks: dict = {}
    for key, value in state.items():
        parts = key.split('.')
        if key.startswith('transformer.resblocks.') and len(parts) > 3:
            blocks.setdefault(int(parts[2]), {})['.'.join(parts[3:])] = \
                tuple(value.shape)
    if not blocks:
        raise ValueError('not a ViT: no transformer.resblocks.N.* tensors')
    if sorted(blocks) != list(range(len(blocks))):
        raise ValueError(f'block numbers {sorted(blocks)} have gaps: not '
                         'one ViT')
    first = blocks[0]
    for index, block in sorted(blocks.items()):
        for name in sorted(set(first) | set(block)):
            if first.get(name) != block.get(name):
                raise ValueError(
                    f'block {index} does not match block 0 at '
                    f'transformer.resblocks.{index}.{name}: '
                    f'{block.get(name)} vs {first.get(name)}; the blocks '
                    'are not of one architecture')
    ln_width = first.get('ln_1.weight', (width, ))[0]
    if ln_width != width:
        raise ValueError(f'conv1.weight gives width {width} but the blocks '
                         f'have width {ln_width}: not one ViT')


def infer_arch(state: dict) -> dict:
    """Width, depth, patch and image size read off the tensor shapes.

    Heads cannot be read off the weights; CLIP, timm and mmpretrain ViTs
    (Ti/S/B/L) use 64-wide heads.

    Raises:
        ValueError: the dict is not one consistent ViT (a tensor the layout
            needs is missing, the blocks differ in their tensors or shapes,
            block numbers have gaps), naming the first offending key.
    """
    check_consistent_vit(state)
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
    try:
        state = to_backbone_keys(raw, src)
        arch = infer_arch(state)
    except ValueError as error:
        raise SystemExit(f'error: {args.src}: {error}; nothing written') \
            from None
    settings = backbone_settings(raw, state)
    atomic_save_checkpoint(
        dict(
            meta=dict(source=osp.abspath(args.src), arch=arch, **settings),
            state_dict=state), args.out)
    print(f'wrote {args.out}: {len(state)} tensors, arch {arch}, '
          f"style={settings['style']!r}, "
          f"layer_scale={settings['layer_scale']!r}")


if __name__ == '__main__':
    run_tool(main)
