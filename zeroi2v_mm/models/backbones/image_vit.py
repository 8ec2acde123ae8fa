"""ZeroI2VImageViT: the CLIP-style image ViT that ZeroI2V starts from.

It is the base class of the video backbone :class:`~.zeroi2v_vit.ZeroI2VViT`:
patch embedding, class and positional embeddings, ``ln_pre``, the
transformer blocks and ``ln_post`` live here; the video model adds the
temporal embedding, STDHA, the adaptation methods, frame compression and
freezing. Registered in mmpretrain (trained with its ``ImageClassifier``),
its checkpoint (``backbone.*`` keys) loads into the video backbone through
``ZeroI2VViT(pretrained=...)``: every key exists there with the same shape,
and the video model keeps its own zero-initialised ``(T, C)`` temporal
embedding, so at the start of video training every frame gets exactly the
image model's features.
"""
import os.path as osp
from collections import OrderedDict
from typing import Callable, Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from torch import Tensor
from torch.utils.checkpoint import checkpoint
from torchvision.ops import StochasticDepth

from ...compat import use_safe_checkpoint_loader
from ...utils.checkpoint import CheckpointMismatchError, last_read_checkpoint
from ...utils.small_checkpoint import SmallCheckpointBackbone
from ..layers.stdha import STDHAttention
from ..utils.weight_formats import check_layout
from ..utils.weights import (check_checkpoint_adapters, check_checkpoint_fits,
                             check_pretrained_file, load_backbone_state_dict,
                             load_backbone_weights)

ARCHS: Dict[str, dict] = {
    'ViT-B/32':
    dict(width=768, layers=12, heads=12, patch_size=32, image_size=224),
    'ViT-B/16':
    dict(width=768, layers=12, heads=12, patch_size=16, image_size=224),
    'ViT-L/14':
    dict(width=1024, layers=24, heads=16, patch_size=14, image_size=224),
}


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``: the activation OpenAI's CLIP was trained
    with."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


def arch_settings(arch: Union[str, dict]) -> dict:
    """``width / layers / heads / patch_size / image_size`` of ``arch``: a
    name of :data:`ARCHS` or a dict holding those keys.

    Raises:
        ValueError: an unknown name, or a dict missing a key.
    """
    if isinstance(arch, str):
        if arch not in ARCHS:
            raise ValueError(f'unknown arch {arch!r}; choose from '
                             f'{list(ARCHS)} or give a dict')
        return dict(ARCHS[arch])
    required = ('width', 'layers', 'heads', 'patch_size', 'image_size')
    missing = [key for key in required if key not in arch]
    if missing:
        raise ValueError(f'arch dict is missing {missing}')
    return {key: int(arch[key]) for key in required}


ACTIVATIONS = {'quick_gelu': QuickGELU, 'gelu': nn.GELU}

# The layouts of the image ViTs people have weights for. 'clip' (OpenAI /
# open_clip): LayerNorm ``ln_pre`` after the embeddings, no patch-embedding
# bias, eps 1e-5, QuickGELU for OpenAI's weights. 'timm' and 'mmpretrain'
# (timm's VisionTransformer, mmpretrain's VisionTransformer with its default
# pre_norm=False): no pre-norm, a patch-embedding bias, eps 1e-6, GELU; their
# final norm (timm ``norm``, mmpretrain ``ln1``) is ``ln_post``. The two share
# the layout; the name says where the weights come from
# (zeroi2v_mm/models/utils/weight_formats.py converts either).
STYLES: Dict[str, dict] = {
    'clip': dict(ln_pre=True, patch_bias=False, eps=1e-5, act='quick_gelu'),
    'timm': dict(ln_pre=False, patch_bias=True, eps=1e-6, act='gelu'),
    'mmpretrain': dict(ln_pre=False, patch_bias=True, eps=1e-6, act='gelu'),
}


class LayerScale(nn.Module):
    """Per-channel scale of a residual branch (CaiT / DINOv2 LayerScale).

    Shapes: ``(..., C) -> (..., C)``.
    """

    def __init__(self, width: int, init_value: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((width, ), float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


#: ``wrap_linear(linear, role) -> module``: applied to each frozen linear of
#: a block as it is made (see ``PEFTMethod.wrap_linear``).
LinearWrapper = Callable[[nn.Linear, str], nn.Module]


class ResidualAttentionBlock(nn.Module):
    """A CLIP transformer block over frames; names follow open_clip.

    Its linears are plain ``nn.Linear``s unless ``wrap_linear`` wraps them
    (a method's adapters). Methods that change the forward are Block
    variants (``zeroi2v_mm.models.peft.AdapterBlock``).

    Args:
        width, heads: C and H.
        num_frames: frames T the block sees (STDHA moves heads across them).
        stdha_offsets: ``{dt: heads}`` or None (spatial attention).
        act: ``'quick_gelu'`` or ``'gelu'``.
        drop_path: stochastic depth rate.
        wrap_linear: see :data:`LinearWrapper`; None keeps the linears plain.
        eps: LayerNorm epsilon (the style's).
        layer_scale: LayerScale initial value, or None for none.

    Shapes: ``(B*T, L, C) -> (B*T, L, C)``, rows (batch, time)-major.
    """

    def __init__(self,
                 width: int,
                 heads: int,
                 num_frames: int,
                 stdha_offsets: Optional[dict],
                 act: str,
                 drop_path: float,
                 wrap_linear: Optional[LinearWrapper] = None,
                 eps: float = 1e-5,
                 layer_scale: Optional[float] = None):
        super().__init__()
        wrap = wrap_linear or (lambda linear, role: linear)
        self.ln_1 = nn.LayerNorm(width, eps=eps)
        self.attn = STDHAttention(
            width, heads, num_frames, offsets=stdha_offsets, wrap_linear=wrap)
        self.ln_2 = nn.LayerNorm(width, eps=eps)
        # Each linear is made and wrapped before the next one is made.
        c_fc = wrap(nn.Linear(width, width * 4), 'mlp.c_fc')
        gelu = ACTIVATIONS[act]()
        c_proj = wrap(nn.Linear(width * 4, width), 'mlp.c_proj')
        self.mlp = nn.Sequential(
            OrderedDict([('c_fc', c_fc), ('gelu', gelu), ('c_proj', c_proj)]))
        # LayerScale after each residual branch (timm ``ls1`` / ``ls2``,
        # mmpretrain ``gamma1`` / ``gamma2``); Identity without it. It sits
        # after the adapters' output side, which therefore still folds into
        # the linear before it.
        self.ls_1 = (
            LayerScale(width, layer_scale)
            if layer_scale is not None else nn.Identity())
        self.ls_2 = (
            LayerScale(width, layer_scale)
            if layer_scale is not None else nn.Identity())
        self.drop_path = (
            StochasticDepth(drop_path, mode='row')
            if drop_path > 0 else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.ls_1(self.attn(self.ln_1(x))))
        return x + self.drop_path(self.ls_2(self.mlp(self.ln_2(x))))


def _record_activation(module, state_dict, prefix, local_metadata):
    """State-dict hook: store the activation with the weights, so that a
    checkpoint loaded into a model with another activation is refused."""
    local_metadata['act'] = module.act


@MMPRETRAIN_MODELS.register_module()
class ZeroI2VImageViT(SmallCheckpointBackbone, BaseModule):
    """Image ViT (CLIP, timm or mmpretrain layout) with the parameter names
    of :class:`ZeroI2VViT`.

    Registered in mmpretrain's ``MODELS`` (use it under
    ``default_scope='mmpretrain'``, e.g. in an ``ImageClassifier``). Nothing
    is frozen.

    Args:
        arch (str | dict): ``'ViT-B/16'``, ``'ViT-L/14'``, ``'ViT-B/32'`` or
            ``dict(width=, layers=, heads=, patch_size=, image_size=)``.
            Defaults to ``'ViT-B/16'``.
        pretrained (str, optional): Local weights file: an OpenAI CLIP JIT
            archive, an open_clip checkpoint or state dict (whole CLIP or its
            visual tower), a timm ViT state dict, an mmpretrain
            VisionTransformer checkpoint, or an MMEngine checkpoint of this
            backbone (the format is read off the keys; weights of another
            ``style`` or LayerScale setting are refused, naming the file).
            Loaded by :meth:`init_weights`, which MMEngine's runner calls when
            training starts; a missing file is an error there, naming the
            path. Building the model (to load a full checkpoint for testing,
            inference, FLOP counts or export) does not need it.
        drop_path_rate (float): Stochastic depth, rising linearly over
            blocks. Defaults to 0.
        act (str, optional): ``'quick_gelu'`` (OpenAI CLIP weights) or
            ``'gelu'``; None = the style's (``'quick_gelu'`` for ``'clip'``,
            ``'gelu'`` for timm / mmpretrain). Saved with the weights
            (state-dict metadata); loading a checkpoint trained with the
            other activation is refused. Defaults to None.
        style (str): Layout of the image ViT, as its weights were trained:
            ``'clip'`` (``ln_pre`` after the embeddings, no patch-embedding
            bias, LayerNorm eps 1e-5), ``'timm'`` or ``'mmpretrain'`` (no
            pre-norm, patch-embedding bias, eps 1e-6, the final norm as
            ``ln_post``). See :data:`STYLES`. Defaults to ``'clip'``.
        layer_scale (float, optional): LayerScale on both residual branches
            of every block (DINOv2-style weights, timm ``init_values``,
            mmpretrain ``layer_scale_init_value``), initialised to this
            value; pretrained weights bring their own. None = none.
        output (str): ``'cls'``: the CLS feature after ``ln_post``,
            ``(N, C)``; ``'feature_map'``: patch features ``(N, C, H/p, W/p)``.
        with_cp (bool): Gradient checkpointing of every block.
        pos_embed_std (float, optional): Standard deviation of the random
            positional embedding when training from scratch (CLIP's is
            ``width ** -0.5``). Next to the patch embedding of a small image
            CLIP's value makes position nearly invisible after ``ln_pre``,
            and a small model trained for minutes then barely learns where
            things are; ~1 lets it (configs/demo/pretrain_image_synthetic.py).
            Ignored when ``pretrained`` weights are loaded.

    Shapes: input ``(N, 3, H, W)``; output a one-element tuple, as
    mmpretrain's necks and heads expect (``LinearClsHead`` takes
    ``feats[-1]``).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'ViT-B/16',
                 pretrained: Optional[str] = None,
                 drop_path_rate: float = 0.0,
                 act: Optional[str] = None,
                 output: str = 'cls',
                 with_cp: bool = False,
                 pos_embed_std: Optional[float] = None,
                 style: str = 'clip',
                 layer_scale: Optional[float] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        # A run that builds this model (mim test / mim train with our
        # configs, init_recognizer) reads MMEngine checkpoints safely; a
        # process that only imports the package keeps MMEngine's loader.
        use_safe_checkpoint_loader()
        if pos_embed_std is not None and not pos_embed_std > 0:
            raise ValueError(f'pos_embed_std={pos_embed_std!r}: expected a '
                             'positive standard deviation or None')
        self.pos_embed_std = pos_embed_std
        self.arch = arch_settings(arch)
        if style not in STYLES:
            raise ValueError(f'style={style!r}: choose from {list(STYLES)}')
        self.style = style
        style_cfg = STYLES[style]
        act = style_cfg['act'] if act is None else act
        if layer_scale is not None and (isinstance(layer_scale, bool) or
                                        not isinstance(layer_scale,
                                                       (int, float))):
            raise ValueError(f'layer_scale={layer_scale!r} must be a number '
                             '(the LayerScale initial value) or None')
        self.layer_scale = layer_scale
        self.norm_eps = style_cfg['eps']
        if act not in ACTIVATIONS:
            raise ValueError(f'act={act!r}: choose from {list(ACTIVATIONS)}')
        if output not in ('cls', 'feature_map'):
            raise ValueError(f"output={output!r}: choose 'cls' or "
                             "'feature_map'")
        self._check_settings()
        width, layers = self.arch['width'], self.arch['layers']
        patch_size, image_size = self.arch['patch_size'], self.arch[
            'image_size']
        if image_size % patch_size:
            raise ValueError(f'image_size={image_size} is not a multiple of '
                             f'patch_size={patch_size}')
        # Read (and required) only when training starts from it
        # (init_weights); a model built to load a full checkpoint (test,
        # inference, FLOPs, export) does not need the file.
        self.pretrained = osp.expanduser(str(pretrained)) if pretrained \
            else None
        self.output = output
        self.act = act
        # Recorded with the weights (state_dict metadata), checked on load.
        self._register_state_dict_hook(_record_activation)
        self.with_cp = with_cp
        self.embed_dims = width
        self.patch_size = patch_size
        self.grid_size = (image_size // patch_size, image_size // patch_size)
        self._check_layout()

        self.conv1 = nn.Conv2d(
            3, width, patch_size, patch_size, bias=style_cfg['patch_bias'])
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(
            scale *
            torch.randn(self.grid_size[0] * self.grid_size[1] + 1, width))
        self._build_input_embeddings()
        # timm / mmpretrain ViTs have no pre-norm: Identity keeps the
        # forward shared and puts no ln_pre.* keys in the state dict.
        self.ln_pre = (
            nn.LayerNorm(width, eps=self.norm_eps)
            if style_cfg['ln_pre'] else nn.Identity())
        # on the CPU even inside a torch.device(...) context (a meta build
        # reads the rates as numbers)
        drop_rates = torch.linspace(
            0, drop_path_rate, layers, device='cpu').tolist()
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.ModuleList(
            self._build_block(i, drop_rates[i]) for i in range(layers))
        self._build_after_blocks()
        self.ln_post = nn.LayerNorm(width, eps=self.norm_eps)
        self._init_random_weights()

    # ------------------------------------------------------------------ build
    # Hooks for the video model, called in this order while building (the
    # order modules are made in fixes which random numbers each one draws).
    def _check_settings(self) -> None:
        """Check the subclass's settings (``self.arch`` is known)."""

    def _check_layout(self) -> None:
        """Check what depends on the patch grid (``self.grid_size``)."""

    def _build_input_embeddings(self) -> None:
        """Embeddings added to the tokens before ``ln_pre``."""

    def _build_block(self, index: int, drop_path: float) -> nn.Module:
        """Block ``index`` (from 0)."""
        return ResidualAttentionBlock(
            self.arch['width'],
            self.arch['heads'],
            1,
            None,
            self.act,
            drop_path,
            eps=self.norm_eps,
            layer_scale=self.layer_scale)

    def _build_after_blocks(self) -> None:
        """Modules that change or join the built blocks."""

    def _init_random_weights(self) -> None:
        """CLIP's initialisation, used where no pretrained weights are
        given."""
        width, layers = self.arch['width'], self.arch['layers']
        proj_std = width**-0.5 * (2 * layers)**-0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj.weight, std=width**-0.5)
            nn.init.zeros_(block.attn.in_proj.bias)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width)**-0.5)
            nn.init.zeros_(block.mlp.c_fc.bias)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
            nn.init.zeros_(block.mlp.c_proj.bias)
        if self.conv1.bias is not None:
            nn.init.zeros_(self.conv1.bias)
        if self.pos_embed_std is not None:
            nn.init.normal_(self.positional_embedding, std=self.pos_embed_std)

    def init_weights(self) -> None:
        """Load ``pretrained`` (if any) and run ``init_cfg``.

        Raises:
            FileNotFoundError: ``pretrained`` is given but absent (before
                anything else is initialised).
        """
        if self.pretrained:
            check_pretrained_file(self.pretrained)
        super().init_weights()
        self._after_init_cfg()
        if self.pretrained:
            load_backbone_state_dict(self, self.pretrained)

    def _after_init_cfg(self) -> None:
        """Undo what a parent's ``init_cfg`` must not change."""

    def read_frozen_source(self, path: str) -> Dict[str, Tensor]:
        """``pretrained``'s tensors in this backbone's names (any format
        :func:`load_backbone_weights` reads): a small checkpoint's frozen
        weights come back from here."""
        return load_backbone_weights(path)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Complete a small checkpoint, refuse a checkpoint that does not
        fit this model, then load as usual. Runs under torch's and MMEngine's
        loaders alike (MMEngine's, used by ``load_from``, ``--resume``,
        ``mim test`` and ``init_recognizer``, only warns about mismatches
        otherwise).

        * a small checkpoint (``SmallCheckpointHook``) gets its frozen
          tensors from the image-model file it records, fingerprint-checked
          (:meth:`complete_frozen_weights`);

        * adapters that do not match (an unmerged checkpoint into
          ``adapters=None``, a merged recognizer checkpoint into a model with
          adapters; see :func:`check_checkpoint_adapters`);
        * any tensor whose shape differs from the model's (width, adapter
          ratio, frames, patch size), always;
        * when a whole model is loaded (``prefix`` not empty) into a backbone
          that was not initialised for training (testing, inference, merge),
          or by ``Runner.resume``: any backbone key missing from the
          checkpoint.
        See :func:`check_checkpoint_fits`.
        """
        self.complete_frozen_weights(state_dict, prefix,
                                     (args[0] if args else None) or {})
        check_checkpoint_adapters(state_dict, prefix, self)
        # another style / LayerScale setting (e.g. a style='timm' run's
        # checkpoint tested with a style='clip' config)
        check_layout(
            {
                k[len(prefix):]: v
                for k, v in state_dict.items() if k.startswith(prefix)
            }, self,
            last_read_checkpoint() or 'checkpoint')
        trained_act = (args[0] or {}).get('act') if args else None
        if trained_act is not None and trained_act != self.act:
            raise CheckpointMismatchError(
                f'checkpoint was trained with act={trained_act!r} (recorded '
                f'in its metadata for {prefix.rstrip(".") or "the backbone"}),'
                f' but this model has act={self.act!r}: the features would '
                f'differ. Set model.backbone.act={trained_act!r}')
        check_checkpoint_fits(state_dict, prefix, self)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------------- forward
    def _check_grid(self, height: int, width: int) -> None:
        grid = (height // self.patch_size, width // self.patch_size)
        if grid != self.grid_size:
            raise ValueError(
                f'input frames of {height}x{width} give a {grid} patch grid, '
                f'the backbone was built for {self.grid_size} '
                f"(image_size={self.arch['image_size']})")

    def embed_patches(self, x: Tensor) -> Tensor:
        """Images ``(M, 3, H, W)`` -> tokens ``(M, 1 + h*w, C)``: patch
        embedding, CLS token first, plus the positional embedding."""
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (M, h*w, C)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        return torch.cat([cls, x], dim=1) + self.positional_embedding.to(
            x.dtype)

    def run_block(self, block: nn.Module, x: Tensor) -> Tensor:
        """One block, with gradient checkpointing if ``with_cp``."""
        if self.with_cp and x.requires_grad:
            return checkpoint(block, x, use_reentrant=False)
        return block(x)

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        """(N, 3, H, W) -> ``((N, C),)`` or ``((N, C, H/p, W/p),)``."""
        if x.dim() != 4:
            raise ValueError(f'ZeroI2VImageViT expects (N, 3, H, W) images, '
                             f'got shape {tuple(x.shape)}')
        self._check_grid(*x.shape[-2:])
        x = self.ln_pre(self.embed_patches(x))
        for block in self.transformer.resblocks:
            x = self.run_block(block, x)
        if self.output == 'cls':
            return (self.ln_post(x[:, 0]), )  # (N, C)
        x = self.ln_post(x[:, 1:]).view(x.shape[0], *self.grid_size, -1)
        return (x.permute(0, 3, 1, 2).contiguous(), )  # (N, C, h, w)
