"""Temporal compression between blocks, shared by the video backbones.

``compress=dict(type='InTI' | 'LinearPooling' | 'ConvPooling',
after_blocks=(5, 7), ...)`` puts one frame-halving layer after each listed
block (counted from 1: 5 means between the 5th and the 6th block) of
:class:`ZeroI2VViT` and :class:`UniFormerV2InTI`; this module checks the
setting, says how many frames every block sees, and builds the layers.
"""
from typing import List, Optional, Tuple

from mmengine.model import ModuleDict

from mmaction.registry import MODELS


def check_after_blocks(compress_cfg: Optional[dict]) -> Tuple[int, ...]:
    """``compress_cfg['after_blocks']`` as a tuple of block numbers.

    Accepts a single int (``--cfg-options ...after_blocks=5``); refuses a
    non-number, a repeated block, and a ``compress`` without blocks, naming
    the value. Writes the tuple back into ``compress_cfg``.
    """
    if not compress_cfg:
        return ()
    after_blocks = compress_cfg.get('after_blocks', ())
    if isinstance(after_blocks, int) and not isinstance(after_blocks, bool):
        after_blocks = (after_blocks, )
    if not isinstance(after_blocks, (list, tuple)) or not all(
            isinstance(p, int) and not isinstance(p, bool)
            for p in after_blocks):
        raise ValueError(f'compress after_blocks={after_blocks!r} must be '
                         'block numbers, e.g. (5, 7); from the command '
                         'line: model.backbone.compress.after_blocks='
                         '"(5,7)"')
    if not after_blocks:
        raise ValueError('compress needs after_blocks, e.g. (5, 7)')
    repeated = sorted(
        {p
         for p in after_blocks if list(after_blocks).count(p) > 1})
    if repeated:
        raise ValueError(f'compress after_blocks={tuple(after_blocks)}: '
                         f'block {repeated[0]} is listed twice')
    compress_cfg['after_blocks'] = tuple(after_blocks)
    return tuple(after_blocks)


def frames_per_block(num_frames: int,
                     layers: int,
                     compress_cfg: Optional[dict],
                     frames_name: str = 'num_frames') -> List[int]:
    """Frames each of the ``layers`` blocks sees: ``num_frames``, halved
    after every compression point.

    Raises:
        ValueError: a block number outside ``[1, layers)``, or an odd frame
            count at a compression point (naming ``frames_name``, the
            backbone argument to change).
    """
    after_blocks = check_after_blocks(compress_cfg)
    for position in after_blocks:
        if not 1 <= position < layers:
            raise ValueError(f'compress after_blocks={after_blocks}: '
                             f'{position} is not between 1 and {layers - 1}')
    frames, counts = num_frames, []
    for block in range(layers):
        if block in after_blocks:
            if frames % 2:
                raise ValueError(
                    f'compress after block {block}: {frames} frames is odd '
                    f'and cannot be halved; change {frames_name} or '
                    'after_blocks')
            frames //= 2
        counts.append(frames)
    return counts


def build_compressors(compress_cfg: Optional[dict], embed_dims: int,
                      frames: List[int], grid_size: Tuple[int,
                                                          int]) -> ModuleDict:
    """The compression layers, keyed by the block they follow (``'5'``).

    Args:
        compress_cfg: checked by :func:`frames_per_block` first.
        embed_dims: token width C.
        frames: :func:`frames_per_block`'s counts; the layer after block i
            halves ``frames[i - 1]``.
        grid_size: patch grid (h, w) of a frame.

    MMEngine's ``ModuleDict``, so that ``BaseModule.init_weights`` of the
    backbone reaches the layers (the backbones still reset them afterwards:
    a fresh layer averages each pair, whatever a parent ``init_cfg`` did).
    """
    compressors = ModuleDict()
    if not compress_cfg:
        return compressors
    cfg = dict(compress_cfg)
    for position in cfg.pop('after_blocks'):
        layer_cfg = dict(
            cfg,
            embed_dims=embed_dims,
            num_frames=frames[position - 1],
            grid_size=grid_size)
        compressors[str(position)] = MODELS.build(layer_cfg)
    return compressors
