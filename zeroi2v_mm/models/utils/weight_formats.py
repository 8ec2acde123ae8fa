"""timm and mmpretrain ViT weights in :class:`ZeroI2VViT` parameter names,
and the ViT layout (``style``, LayerScale) a set of weights was trained with.

Both libraries' ViTs are the same network as ZeroI2VViT's ``style='timm'`` /
``'mmpretrain'`` layout: patch embedding with bias, CLS token and positional
embedding, pre-LN blocks with a fused qkv projection (q, k, v stacked, heads
contiguous inside each, as in torch's MultiheadAttention), GELU MLP, optional
LayerScale, a final norm. Only the names differ:

* patch embedding: timm ``patch_embed.proj``, mmpretrain
  ``patch_embed.projection`` -> ``conv1`` (with its bias);
* ``cls_token`` (1, 1, C) -> ``class_embedding`` (C); ``pos_embed``
  (1, 1+N, C) -> ``positional_embedding`` (1+N, C);
* pre-norm of a CLIP-layout ViT: timm ``norm_pre``, mmpretrain ``pre_norm``
  -> ``ln_pre``;
* block i: timm ``blocks.i.{norm1, norm2}``, mmpretrain
  ``layers.i.{ln1, ln2}`` -> ``transformer.resblocks.i.{ln_1, ln_2}``;
  ``attn.qkv`` / ``attn.proj`` -> ``attn.in_proj`` / ``attn.out_proj``;
  timm ``mlp.fc1`` / ``mlp.fc2``, mmpretrain ``ffn.layers.0.0`` /
  ``ffn.layers.1`` -> ``mlp.c_fc`` / ``mlp.c_proj``; LayerScale timm
  ``ls1.gamma`` / ``ls2.gamma``, mmpretrain ``attn.gamma1.weight`` /
  ``ffn.gamma2.weight`` -> ``ls_1.gamma`` / ``ls_2.gamma``;
* final norm: timm ``norm``, mmpretrain ``ln1`` -> ``ln_post``;
* dropped: timm ``head.*``; mmpretrain ``head.*``, ``neck.*`` (an
  ImageClassifier checkpoint's ``backbone.`` prefix is removed first).

A key that is neither mapped nor dropped (timm's ``reg_token``, ``q_norm``,
``fc_norm``; mmpretrain's ``ln2`` of ``out_type='avg_featmap'``, ...) belongs
to a variant this backbone does not implement and is refused, naming the file
and the key, rather than silently left out.
"""
import re
from typing import Callable, Dict, List, Optional, Tuple

from torch import Tensor

BLOCKS = 'transformer.resblocks.'

# (pattern, replacement) applied with re.fullmatch, first match wins.
TIMM_RULES: List[Tuple[str, str]] = [
    (r'patch_embed\.proj\.(weight|bias)', r'conv1.\1'),
    (r'norm_pre\.(weight|bias)', r'ln_pre.\1'),
    (r'blocks\.(\d+)\.norm1\.(weight|bias)', BLOCKS + r'\1.ln_1.\2'),
    (r'blocks\.(\d+)\.norm2\.(weight|bias)', BLOCKS + r'\1.ln_2.\2'),
    (r'blocks\.(\d+)\.attn\.qkv\.(weight|bias)',
     BLOCKS + r'\1.attn.in_proj.\2'),
    (r'blocks\.(\d+)\.attn\.proj\.(weight|bias)',
     BLOCKS + r'\1.attn.out_proj.\2'),
    (r'blocks\.(\d+)\.ls1\.gamma', BLOCKS + r'\1.ls_1.gamma'),
    (r'blocks\.(\d+)\.ls2\.gamma', BLOCKS + r'\1.ls_2.gamma'),
    (r'blocks\.(\d+)\.mlp\.fc1\.(weight|bias)', BLOCKS + r'\1.mlp.c_fc.\2'),
    (r'blocks\.(\d+)\.mlp\.fc2\.(weight|bias)', BLOCKS + r'\1.mlp.c_proj.\2'),
    (r'norm\.(weight|bias)', r'ln_post.\1'),
]
TIMM_DROPPED = r'head\..*'

MMPRETRAIN_RULES: List[Tuple[str, str]] = [
    (r'patch_embed\.projection\.(weight|bias)', r'conv1.\1'),
    (r'pre_norm\.(weight|bias)', r'ln_pre.\1'),
    (r'layers\.(\d+)\.ln1\.(weight|bias)', BLOCKS + r'\1.ln_1.\2'),
    (r'layers\.(\d+)\.ln2\.(weight|bias)', BLOCKS + r'\1.ln_2.\2'),
    (r'layers\.(\d+)\.attn\.qkv\.(weight|bias)',
     BLOCKS + r'\1.attn.in_proj.\2'),
    (r'layers\.(\d+)\.attn\.proj\.(weight|bias)',
     BLOCKS + r'\1.attn.out_proj.\2'),
    (r'layers\.(\d+)\.attn\.gamma1\.weight', BLOCKS + r'\1.ls_1.gamma'),
    (r'layers\.(\d+)\.ffn\.gamma2\.weight', BLOCKS + r'\1.ls_2.gamma'),
    (r'layers\.(\d+)\.ffn\.layers\.0\.0\.(weight|bias)',
     BLOCKS + r'\1.mlp.c_fc.\2'),
    (r'layers\.(\d+)\.ffn\.layers\.1\.(weight|bias)',
     BLOCKS + r'\1.mlp.c_proj.\2'),
    (r'ln1\.(weight|bias)', r'ln_post.\1'),
]
MMPRETRAIN_DROPPED = r'(head|neck|data_preprocessor)\..*'


def detect_format(state: Dict[str, Tensor]) -> Optional[str]:
    """``'timm'``, ``'mmpretrain'`` (either with or without the
    ``backbone.`` prefix of an ImageClassifier checkpoint) or None (not a
    ViT of either library), read off the patch-embedding key."""
    if 'patch_embed.proj.weight' in state:
        return 'timm'
    if ('patch_embed.projection.weight' in state
            or 'backbone.patch_embed.projection.weight' in state):
        return 'mmpretrain'
    return None


def _rename(state: Dict[str, Tensor], rules: List[Tuple[str, str]],
            dropped: str, path: str, source: str) -> Dict[str, Tensor]:
    converted = {}
    for key, value in state.items():
        if key in ('cls_token', 'pos_embed'):
            continue  # reshaped below
        for pattern, replacement in rules:
            if re.fullmatch(pattern, key):
                converted[re.sub(pattern, replacement, key)] = value
                break
        else:
            if not re.fullmatch(dropped, key):
                raise ValueError(
                    f'{path}: {source} ViT key {key!r} has no counterpart in '
                    'ZeroI2VViT (a ViT variant it does not implement: e.g. '
                    'register tokens, q/k norms, average-pooled output '
                    'norms); supported are the plain ViT layout with '
                    'optional LayerScale and pre-norm')
    for key in ('cls_token', 'pos_embed'):
        if key not in state:
            raise ValueError(f'{path}: {source} ViT weights without {key!r}; '
                             'ZeroI2VViT needs a CLS token and a positional '
                             'embedding that covers it')
    cls_token, pos_embed = state['cls_token'], state['pos_embed']
    width = cls_token.shape[-1]
    tokens = pos_embed.shape[-2]
    grid = int(round((tokens - 1)**0.5))
    if cls_token.numel() != width or pos_embed.numel() != tokens * width or \
            grid * grid != tokens - 1:
        raise ValueError(
            f'{path}: {source} pos_embed of shape {tuple(pos_embed.shape)} '
            f'does not hold 1 CLS + a square grid of patch positions (cls_'
            f'token {tuple(cls_token.shape)}); ViTs without a CLS position '
            '(timm no_embed_class) are not supported')
    converted['class_embedding'] = cls_token.reshape(width)
    converted['positional_embedding'] = pos_embed.reshape(tokens, width)
    return converted


def timm_to_backbone(state: Dict[str, Tensor], path: str) -> Dict[str, Tensor]:
    """A timm ``VisionTransformer`` state dict in backbone names."""
    return _rename(state, TIMM_RULES, TIMM_DROPPED, path, 'timm')


def mmpretrain_to_backbone(state: Dict[str, Tensor],
                           path: str) -> Dict[str, Tensor]:
    """An mmpretrain ``VisionTransformer`` (or ImageClassifier with one as
    ``backbone``) state dict in backbone names."""
    if any(key.startswith('backbone.') for key in state):
        state = {
            key[len('backbone.'):]: value
            for key, value in state.items() if key.startswith('backbone.')
        }
    return _rename(state, MMPRETRAIN_RULES, MMPRETRAIN_DROPPED, path,
                   'mmpretrain')


CONVERTERS: Dict[str, Callable[[Dict[str, Tensor], str], Dict[str, Tensor]]]
CONVERTERS = {'timm': timm_to_backbone, 'mmpretrain': mmpretrain_to_backbone}


def weights_layout(state: Dict[str, Tensor]) -> Dict[str, object]:
    """The layout backbone-named weights were trained with.

    Returns:
        dict(layout=, layer_scale=): ``layout`` is ``'clip'`` (``ln_pre``, no
        patch bias), ``'timm'`` (no ``ln_pre``, patch bias; the layout of
        the styles ``'timm'`` and ``'mmpretrain'``) or None when the
        weights do not say (no patch embedding, e.g. an adapters-only
        file); ``layer_scale`` whether blocks carry LayerScale gammas.
    """
    layout = None
    if 'ln_pre.weight' in state:
        layout = 'clip'
    elif 'conv1.weight' in state:
        layout = 'timm' if 'conv1.bias' in state else 'clip'
    layer_scale = any(
        key.endswith(('.ls_1.gamma', '.ls_2.gamma')) for key in state)
    return dict(layout=layout, layer_scale=layer_scale)


def check_layout(state: Dict[str, Tensor], backbone, path: str) -> None:
    """Refuse weights whose ViT layout differs from ``backbone``'s.

    A non-strict load would otherwise drop a patch bias, an ``ln_pre`` or
    LayerScale gammas (or leave them at their initial values) and give
    other features without an error.

    Raises:
        ValueError: naming ``path``, what the weights are and what to set.
    """
    found = weights_layout(state)
    style = getattr(backbone, 'style', 'clip')
    if found['layout'] is not None:
        want = 'clip' if style == 'clip' else 'timm'
        if found['layout'] != want:
            if found['layout'] == 'clip':
                what = ('CLIP-layout ViT weights (ln_pre after the '
                        'embeddings, no patch-embedding bias)')
                fix = "model.backbone.style='clip'"
            else:
                what = ('timm / mmpretrain-layout ViT weights (no ln_pre, '
                        'a patch-embedding bias)')
                fix = ("model.backbone.style='timm' (or 'mmpretrain'; "
                       "LayerNorm eps 1e-6, act='gelu')")
            raise ValueError(
                f'{path} holds {what}, but the backbone was built with '
                f'style={style!r}: set {fix}')
    model_ls = getattr(backbone, 'layer_scale', None) is not None
    if found['layer_scale'] and not model_ls:
        raise ValueError(
            f'{path} holds LayerScale gammas (e.g. DINOv2-style ls1.gamma / '
            'gamma1) but the backbone was built with layer_scale=None: set '
            'model.backbone.layer_scale (any number; the file brings the '
            'trained values)')
    if model_ls and not found['layer_scale'] and \
            found['layout'] is not None:
        raise ValueError(
            f'{path} holds a ViT without LayerScale but the backbone was '
            f'built with layer_scale={backbone.layer_scale!r}: the gammas '
            'would keep their initial values; set model.backbone.'
            'layer_scale=None')
