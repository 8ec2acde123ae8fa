"""FLOPs and parameters of InTI models from their config, without building.

Counting ViT-B/16 or ViT-L/14 with 16 frames by tracing
(:mod:`zeroi2v_mm.utils.complexity`) takes long on a CPU; the counts below
are the same numbers written as formulas, so tables over many configs are
instant. They follow the tracing counter's rules exactly (fvcore convention,
as MMEngine's ``FlopAnalyzer`` with ``complexity.EXTRA_FLOP_HANDLES``): one
multiply-add is one FLOP; linears, matmuls, convolutions and attention
count, a layer norm counts 5 per element, an eval batch norm 2; element-wise
ops, softmax, pooling and means are free.
``tests/models/test_inti_costs.py`` checks every formula against the
tracing counter and ``parameter_count`` on small models of both backbones,
so any drift between code and formula fails there.

What the formulas need of a config comes from the code that builds it: the
frames each block sees from the backbones' own :func:`frames_per_block`
(with its checks), unset arguments from the classes' signatures, ``arch``
names from :class:`ZeroI2VImageViT`. It lives with the models, not in
``utils/complexity.py``, because ``zeroi2v_mm.utils`` never imports them.

Supported: ``ZeroI2VViT`` without adapters / peft (the InTI paper's plain
models) and ``UniFormerV2InTI`` (InTI^temp), each with ``compress`` =
InTI / LinearPooling / ConvPooling, plus the class-score head.
"""
import inspect
from math import ceil
from typing import Dict, Tuple

from mmaction.models.backbones.uniformerv2 import UniFormerV2

from .backbones.image_vit import arch_settings
from .backbones.uniformerv2_inti import UniFormerV2InTI
from .backbones.zeroi2v_vit import ZeroI2VViT
from .compressors.build import check_after_blocks, frames_per_block
from .compressors.inti import InTI


def _defaults(cls: type) -> dict:
    """The keyword defaults of ``cls.__init__``: what a config leaves out."""
    params = inspect.signature(cls.__init__).parameters
    return {
        name: p.default
        for name, p in params.items()
        if p.default is not inspect.Parameter.empty
    }


def _norm(elements: int) -> int:
    """A LayerNorm with affine over ``elements`` values."""
    return 5 * elements


def _linear(rows: int, inputs: int, outputs: int) -> int:
    return rows * inputs * outputs


def _block_flops(width: int, tokens: int, frames: int, mlp_dims: int) -> int:
    """One CLIP transformer block over ``frames`` frames of ``tokens``
    tokens: two norms, qkv, attention (``2 L^2 C``), out-projection, MLP."""
    rows = frames * tokens
    return (2 * _norm(rows * width) + _linear(rows, width, 3 * width) +
            2 * frames * tokens * tokens * width +
            _linear(rows, width, width) + 2 * _linear(rows, width, mlp_dims))


def _block_params(width: int, mlp_dims: int) -> int:
    return (2 * 2 * width + 3 * width * width + 3 * width + width * width +
            width + width * mlp_dims + mlp_dims + mlp_dims * width + width)


def compressor_costs(cfg: dict, width: int, frames: int,
                     grid: Tuple[int, int]) -> Tuple[int, int]:
    """(FLOPs, parameters) of one compression layer that receives
    ``frames`` frames of ``1 + h*w`` tokens of width ``width`` (batch 1)."""
    kind = cfg['type']
    tokens = 1 + grid[0] * grid[1]
    if kind == 'LinearPooling':
        return 0, 2
    if kind == 'ConvPooling':
        k = cfg.get('spatial_kernel', 1)
        flops = width * width * 2 * k * k * (frames // 2) * tokens
        return flops, width * width * 2 * k * k + width
    if kind != 'InTI':
        raise ValueError(f'no cost formula for compress type {kind!r}')
    half = width // 2
    defaults = _defaults(InTI)
    use_cube = cfg.get('use_cube', defaults['use_cube'])
    use_frame = cfg.get('use_frame', defaults['use_frame'])
    use_global = cfg.get('use_global', defaults['use_global'])
    hidden = int(width * cfg.get('ffn_ratio', defaults['ffn_ratio']))
    ffn_in = 2 * width if (use_cube or use_frame or use_global) else width
    rows = frames * tokens
    # sigma, P (T x C), T_{C->C/2} of F_token
    params = 1 + frames * width + 2 * width + width * half + half
    flops = _norm(rows * width) + _linear(rows, width, half)
    if use_cube:  # depth-wise 3x3x3 conv; CLS through the same kernel
        params += 27 * width + width
        flops += 27 * width * rows
    if use_frame:  # T_{C->C/2} on CLS, T_{C->C} on each pair
        params += 2 * width + width * half + half
        params += 2 * width + width * width + width
        flops += _norm(frames * width) + _linear(frames, width, half)
        flops += _norm(frames // 2 * width) + _linear(frames // 2, width,
                                                      width)
    if use_global:  # three depth-wise conv1d k3 over time, pooled /2 twice
        params += 3 * (3 * width + width)
        steps = frames
        for _ in range(3):
            flops += 3 * width * steps
            steps = ceil(steps / 2)
    params += ffn_in * hidden + hidden + hidden * 2 + 2
    flops += _linear(frames // 2 * tokens, ffn_in, hidden)
    flops += _linear(frames // 2 * tokens, hidden, 2)
    return flops, params


def backbone_costs(cfg: dict) -> Dict[str, int]:
    """``dict(flops=, params=)`` of one view (batch 1) through the backbone
    built from ``cfg`` (a ``ZeroI2VViT`` or ``UniFormerV2InTI`` dict)."""
    kind = cfg['type']
    # a copy: frames_per_block writes the checked after_blocks back
    compress = dict(cfg['compress']) if cfg.get('compress') else None
    after = check_after_blocks(compress)
    if kind == 'ZeroI2VViT':
        full = _defaults(ZeroI2VViT)
        full.update(cfg)
        if full['adapters'] or full['peft']:
            raise ValueError('backbone_costs covers ZeroI2VViT without '
                             'adapters / peft (merge them first)')
        arch = arch_settings(full['arch'])
        width, layers = arch['width'], arch['layers']
        patch, size = arch['patch_size'], arch['image_size']
        frames = full['num_frames']
        grid = (size // patch, size // patch)
        tokens = 1 + grid[0] * grid[1]
        per_block = frames_per_block(frames, layers, compress)
        flops = frames * grid[0] * grid[1] * width * 3 * patch * patch
        flops += _norm(frames * tokens * width)  # ln_pre
        flops += sum(
            _block_flops(width, tokens, t, 4 * width) for t in per_block)
        out = per_block[-1]
        flops += _norm(out * width)  # ln_post on the CLS tokens
        params = width * 3 * patch * patch + width + tokens * width
        if full['temporal_embedding']:
            params += frames * width
        params += 2 * width + layers * _block_params(width, 4 * width)
        params += 2 * width  # ln_post
    elif kind == 'UniFormerV2InTI':
        full = dict(_defaults(UniFormerV2), **_defaults(UniFormerV2InTI))
        full.update(cfg)
        width, layers = full['width'], full['layers']
        patch, size = full['patch_size'], full['input_resolution']
        if full['n_dim'] != width:
            raise ValueError('backbone_costs assumes n_dim == width')
        grid = (size // patch, size // patch)
        tokens = 1 + grid[0] * grid[1]
        in_frames = full['t_size']
        stem_t = full['kernel_size'] if full['temporal_downsample'] else 1
        frames = in_frames // (2 if full['temporal_downsample'] else 1)
        per_block = frames_per_block(
            frames, layers, compress, frames_name='t_size')
        flops = frames * grid[0] * grid[1] * width * 3 * stem_t * patch * patch
        flops += _norm(frames * tokens * width)  # ln_pre
        params = (
            width * 3 * stem_t * patch * patch + width + tokens * width +
            2 * width + layers * _block_params(width, 4 * width))
        reduced = int(width // full['dw_reduction'])
        lmhra = 0 if full['no_lmhra'] else (2 if full['double_lmhra'] else 1)
        for t in per_block:
            flops += _block_flops(width, tokens, t, 4 * width)
            positions = t * (tokens - 1)
            flops += lmhra * (
                2 * width * positions +  # eval batch norm
                2 * width * reduced * positions + 3 * reduced * positions)
        params += layers * lmhra * (2 * width + 2 * width * reduced +
                                    3 * reduced + width + 2 * reduced)
        # global UniBlocks: DPE + one query over all T*L tokens
        mlp_dims = round(full['mlp_factor'] * width)
        tap_after = full['global_tap'] == 'after'
        for index in full['return_list']:
            t = per_block[index]
            if tap_after and (index + 1) in after:
                t //= 2
            keys = t * tokens
            flops += 27 * width * t * (tokens - 1)  # dpe
            flops += _norm(width) + _norm(keys * width) + _norm(width)
            flops += width * width + 2 * keys * width * width  # q, k, v
            flops += 2 * keys * width + width * width  # attention, out
            flops += 2 * width * mlp_dims
        n_layers = len(full['return_list'])
        params += width + n_layers * (28 * width)  # cls token, dpe
        params += n_layers * (4 * width * width + 4 * width + 6 * width +
                              2 * width * mlp_dims + mlp_dims + width)
        flops += _norm(width)  # final norm
        params += 2 * width + width  # norm, balance
    else:
        raise ValueError(f'no cost formula for backbone type {kind!r}')
    layer_cfg = {
        k: v
        for k, v in compress.items() if k != 'after_blocks'
    } if compress else None
    for position in after:
        layer_flops, layer_params = compressor_costs(layer_cfg, width,
                                                     per_block[position - 1],
                                                     grid)
        flops += layer_flops
        params += layer_params
    return dict(flops=int(flops), params=int(params), width=width)


def model_costs(model_cfg: dict) -> Dict[str, float]:
    """Costs of a recognizer config: backbone plus the class-score head.

    Returns ``dict(flops, params, gflops, mparams)`` for one view.
    """
    costs = backbone_costs(model_cfg['backbone'])
    head = model_cfg.get('cls_head')
    if head:
        classes, dims = head['num_classes'], head['in_channels']
        costs['flops'] += dims * classes
        costs['params'] += dims * classes + classes
    costs['gflops'] = costs['flops'] / 1e9
    costs['mparams'] = costs['params'] / 1e6
    return costs
