"""ZeroI2VViT: a CLIP-style image ViT run over video.

Every frame goes through the image model; temporal modelling comes only from
STDHA head relocation (no parameters, no FLOPs), adaptation from linear
adapters that fold into the frozen linears after training, and optional
temporal compression layers (InTI and its baselines) between blocks.
"""
import ast
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor
from torch.utils.checkpoint import checkpoint
from torchvision.ops import StochasticDepth

from mmaction.registry import MODELS

from ...compat import use_safe_checkpoint_loader
from ...utils.checkpoint import CheckpointMismatchError, loading_for_resume
from ...utils.small_checkpoint import METADATA_KEY, refuse_unrestored
from ..layers import MERGEABLE_PEFT, PEFT_METHODS, PEFT_PARAM_MARKERS
from ..layers.linear_adapter import AdaptedLinear
from ..layers.stdha import STDHAttention, parse_head_offsets
from ..weights import (check_checkpoint_adapters, check_checkpoint_fits,
                       check_pretrained_file, load_backbone_state_dict)
from .compression import build_compressors, frames_per_block

ARCHS: Dict[str, dict] = {
    'ViT-B/32': dict(width=768, layers=12, heads=12, patch_size=32,
                     image_size=224),
    'ViT-B/16': dict(width=768, layers=12, heads=12, patch_size=16,
                     image_size=224),
    'ViT-L/14': dict(width=1024, layers=24, heads=16, patch_size=14,
                     image_size=224),
}

# Where the linear adapters sit in a block (ZeroI2V reference placement):
# before the qkv in-projection (shared by Q, K, V, or one each), after the
# attention out-projection, before MLP fc1 and after MLP fc2. 3 = the
# reference's num_tadapter=1: the same without the adapter after MLP fc2.
QKV_ADAPTERS = {3: 'qkv_shared', 4: 'qkv_shared', 6: 'qkv_separate'}


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``: the activation OpenAI's CLIP was trained with."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {'quick_gelu': QuickGELU, 'gelu': nn.GELU}


class ResidualAttentionBlock(nn.Module):
    """A CLIP transformer block over frames; names follow open_clip.

    Shapes: ``(B*T, L, C) -> (B*T, L, C)``, rows (batch, time)-major.
    """

    def __init__(self, width: int, heads: int, num_frames: int,
                 stdha_offsets: Optional[dict], adapter_cfg: Optional[dict],
                 num_adapters: int, act: str, drop_path: float):
        super().__init__()
        adapted = adapter_cfg is not None
        self.ln_1 = nn.LayerNorm(width)
        self.attn = STDHAttention(
            width, heads, num_frames, offsets=stdha_offsets,
            adapters=QKV_ADAPTERS[num_adapters] if adapted else None,
            adapt_out=adapted, adapter_cfg=adapter_cfg)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ('c_fc', AdaptedLinear(width, width * 4,
                                   input_adapters=int(adapted),
                                   adapter_cfg=adapter_cfg)),
            ('gelu', ACTIVATIONS[act]()),
            ('c_proj', AdaptedLinear(width * 4, width,
                                     output_adapter=adapted and
                                     num_adapters != 3,
                                     adapter_cfg=adapter_cfg)),
        ]))
        self.drop_path = (StochasticDepth(drop_path, mode='row')
                          if drop_path > 0 else nn.Identity())
        # A baseline method's block-level modules (AIM, ST-Adapter, GELU
        # adapters; ZeroI2VViT(peft=...)): its forward(block, x) replaces ours.
        self.peft: Optional[nn.Module] = None

    def forward(self, x: Tensor) -> Tensor:
        if self.peft is not None:
            return self.peft(self, x)
        x = x + self.drop_path(self.attn(self.ln_1(x)))
        return x + self.drop_path(self.mlp(self.ln_2(x)))


def normalize_offsets(offsets) -> Dict[int, int]:
    """STDHA offsets as ``{dt: heads}``, from any way a config gives them.

    Accepted: a dict ``{-1: 1, 1: 1}``; a list of pairs ``[(-1, 1), (1, 1)]``
    (prefer it, as the shipped configs do: MMEngine *replaces* a list but
    *merges* dicts, so a dict in a derived config adds its offsets to the
    base config's, and ``Config.dump`` sorts dict keys, which reorders the
    heads); the text of either (``--cfg-options`` gives
    ``model.backbone.stdha.offsets="[(-1,1),(1,1)]"`` as a list of tuples, and
    splits ``{-1:1,1:1}`` at the comma into strings, which are joined back).
    Head order is the listed order.
    """
    given = offsets
    if isinstance(offsets, (list, tuple)) and offsets and all(
            isinstance(part, str) for part in offsets):
        offsets = ','.join(offsets)  # {-1:1,1:1} split by --cfg-options
    if isinstance(offsets, str):
        try:
            offsets = ast.literal_eval(offsets)
        except (ValueError, SyntaxError):
            raise ValueError(f'stdha offsets={given!r} is not readable; '
                             'write [(-1, 1), (1, 1)] or {-1: 1, 1: 1}'
                             ) from None
    if isinstance(offsets, (list, tuple)):
        pairs = list(offsets)
        if not all(isinstance(p, (list, tuple)) and len(p) == 2
                   for p in pairs):
            raise ValueError(f'stdha offsets={given!r}: a list must hold '
                             '(dt, heads) pairs, e.g. [(-1, 1), (1, 1)]')
        dts = [p[0] for p in pairs]
        repeated = [dt for dt in dts if dts.count(dt) > 1]
        if repeated:
            raise ValueError(f'stdha offsets={given!r}: offset '
                             f'{repeated[0]} is listed twice')
        offsets = {dt: heads for dt, heads in pairs}
    if not isinstance(offsets, dict) or not offsets:
        raise ValueError(f'stdha offsets={given!r} must be a non-empty dict '
                         '{dt: number_of_heads} or list of (dt, heads) pairs')
    return dict(offsets)


def _record_activation(module, state_dict, prefix, local_metadata):
    """State-dict hook: store the activation with the weights, so that a
    checkpoint loaded into a model with another activation is refused."""
    local_metadata['act'] = module.act


@MODELS.register_module()
class ZeroI2VViT(BaseModule):
    """CLIP ViT over video with STDHA, linear adapters and frame compression.

    Args:
        arch (str | dict): ``'ViT-B/16'``, ``'ViT-L/14'``, ``'ViT-B/32'`` or
            ``dict(width=, layers=, heads=, patch_size=, image_size=)``.
        num_frames (int): Frames T of every input clip.
        pretrained (str, optional): Local weights file: an OpenAI CLIP JIT
            archive, an open_clip checkpoint or state dict (whole CLIP or its
            visual tower), or an MMEngine checkpoint of this backbone. Loaded
            by :meth:`init_weights`, which MMEngine's runner calls when
            training starts; a missing file is an error there, naming the
            path. Building the model (to load a full checkpoint for testing,
            inference, FLOP counts or export) does not need it.
        drop_path_rate (float): Stochastic depth, rising linearly over blocks.
        stdha (dict, optional): ``dict(offsets={-1: 1, 1: 1})``: dt -> number
            of heads reading keys/values from frame t + dt, assigned from
            head 0 upward in the listed order. None = spatial. Sign
            convention: dt is the offset of the frame a head reads (-1: the
            previous frame). The released ZeroI2V code uses the same sign and
            the order t-1, t+1, t-2, t+2, t-3; the paper's Table 11 writes
            the opposite sign (its "3*1" head reads t-3), so the paper's
            ``{1*1, -1*1, 2*1}`` is ``{-1: 1, 1: 1, -2: 1}`` here. Also as
            ``(dt, heads)`` pairs, ``offsets=[(-1, 1), (1, 1)]``, whose order
            survives MMEngine's ``Config.dump`` (it sorts dict keys) and
            replaces, never merges with, a base config's offsets; see
            :func:`normalize_offsets`.
        adapters (dict, optional): ``dict(num_adapters=4 or 6, ratio=0.25,
            scale=0.5, dropout=0.1)``. None = no adapters. 3 = 4 without
            the adapter after MLP fc2 (the reference's ``num_tadapter=1``).
        compress (dict, optional): temporal compression between blocks,
            ``dict(type='InTI', after_blocks=(5, 7), ...)`` (also
            ``'LinearPooling'``, ``'ConvPooling'``). ``after_blocks`` counts
            blocks from 1: 5 means between the 5th and the 6th block. Each
            layer halves the frame count.
        act (str): ``'quick_gelu'`` (OpenAI CLIP weights) or ``'gelu'``.
            Saved with the weights (state-dict metadata); loading a
            checkpoint trained with the other activation is refused.
        peft (dict, optional): a comparison method of ZeroI2V Tables 3 / 4
            instead of the linear adapters (needs ``adapters=None``):
            ``dict(type='AIM', ratio=0.25, scale=0.5, num_tadapter=2)``,
            ``dict(type='STAdapter', channels=384, kernel_size=(3, 1, 1),
            positions=('mlp',))``, ``dict(type='GELUAdapter', ratio=0.25,
            scale=, dropout=)`` (dense placement),
            ``dict(type='LoRA', rank=, alpha=, dropout=, targets=)`` or
            ``dict(type='TemporalHeads')`` (only the STDHA temporal heads'
            Q/K/V/out slices train). LoRA and TemporalHeads merge like the
            adapters; the others stay at inference. See
            ``zeroi2v_mm/models/layers/{aim,st_adapter,gelu_adapter,lora}.py``.
        freeze_pretrained (bool): Freeze everything but the adapters (or the
            ``peft`` method's parameters), the temporal embedding, ln_post and
            compression layers.
        output (str): ``'cls'``: per-frame CLS features ``(N, C, T', 1, 1)``;
            ``'feature_map'``: patch features ``(N, C, T', H/p, W/p)``.
        with_cp (bool): Gradient checkpointing of every block (long clips).
        temporal_embedding (bool): Add the learnable (T, C) input temporal
            embedding (True). The InTI paper's naive and InTI models have
            none besides InTI's own ``sigma * P``: False drops it.

    Shapes: input ``(N, 3, T, H, W)``; T' is T halved once per compression.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'ViT-B/16',
                 num_frames: int = 8,
                 pretrained: Optional[str] = None,
                 drop_path_rate: float = 0.0,
                 stdha: Optional[dict] = None,
                 adapters: Optional[dict] = None,
                 compress: Optional[dict] = None,
                 act: str = 'quick_gelu',
                 peft: Optional[dict] = None,
                 freeze_pretrained: bool = True,
                 output: str = 'cls',
                 with_cp: bool = False,
                 temporal_embedding: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        # A run that builds this model (mim test / mim train with our
        # configs, init_recognizer) reads MMEngine checkpoints safely; a
        # process that only imports the package keeps MMEngine's loader.
        use_safe_checkpoint_loader()
        self.arch = self._arch_settings(arch)
        if act not in ACTIVATIONS:
            raise ValueError(f'act={act!r}: choose from {list(ACTIVATIONS)}')
        if output not in ('cls', 'feature_map'):
            raise ValueError(f"output={output!r}: choose 'cls' or "
                             "'feature_map'")
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f'num_frames={num_frames!r} must be a positive '
                             'integer')
        width, layers, heads = (self.arch['width'], self.arch['layers'],
                                self.arch['heads'])
        patch_size, image_size = self.arch['patch_size'], self.arch['image_size']
        if image_size % patch_size:
            raise ValueError(f'image_size={image_size} is not a multiple of '
                             f'patch_size={patch_size}')
        self.num_frames = num_frames
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
        self.freeze_pretrained = freeze_pretrained
        self.embed_dims = width
        self.patch_size = patch_size
        self.grid_size = (image_size // patch_size, image_size // patch_size)
        self.stdha_cfg = self._check_stdha(stdha)
        self.adapter_cfg = self._check_adapters(adapters)
        self.peft_cfg = self._check_peft(peft, adapters)

        self.compress_cfg = dict(compress) if compress else None
        self.frames_per_block = frames_per_block(num_frames, layers,
                                                 self.compress_cfg)
        stdha_offsets = self.stdha_cfg['offsets'] if self.stdha_cfg else None
        for block, frames in enumerate(self.frames_per_block):
            try:
                parse_head_offsets(stdha_offsets, heads, frames)
            except ValueError as error:
                raise ValueError(f'stdha in block {block} ({frames} frames): '
                                 f'{error}') from None

        self.conv1 = nn.Conv2d(3, width, patch_size, patch_size, bias=False)
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(
            scale * torch.randn(self.grid_size[0] * self.grid_size[1] + 1,
                                width))
        # Added to every token of frame t (CLS included) after the positional
        # embedding; zeros keep the image model's function at the start.
        self.temporal_embedding = (nn.Parameter(
            torch.zeros(num_frames, width)) if temporal_embedding else None)
        self.ln_pre = nn.LayerNorm(width)
        adapter_kwargs = None
        num_adapters = 4
        if self.adapter_cfg is not None:
            adapter_kwargs = {k: v for k, v in self.adapter_cfg.items()
                              if k != 'num_adapters'}
            num_adapters = self.adapter_cfg['num_adapters']
        drop_rates = torch.linspace(0, drop_path_rate, layers).tolist()
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width, heads, self.frames_per_block[i],
                                   stdha_offsets, adapter_kwargs, num_adapters,
                                   act, drop_rates[i]) for i in range(layers))
        if self.peft_cfg is not None:
            self._attach_peft()
        self.compressors = build_compressors(
            self.compress_cfg, width, self.frames_per_block, self.grid_size)
        self.ln_post = nn.LayerNorm(width)
        self._init_random_weights()
        if freeze_pretrained:
            self._freeze_pretrained()

    # ------------------------------------------------------------------ build
    @staticmethod
    def _arch_settings(arch: Union[str, dict]) -> dict:
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

    @staticmethod
    def _check_stdha(stdha: Optional[dict]) -> Optional[dict]:
        if stdha is None:
            return None
        unknown = set(stdha) - {'offsets'}
        if unknown:
            raise ValueError(f'unknown stdha keys {sorted(unknown)}; '
                             "expected dict(offsets={dt: heads})")
        return dict(offsets=normalize_offsets(stdha.get('offsets')))

    @staticmethod
    def _check_adapters(adapters: Optional[dict]) -> Optional[dict]:
        if adapters is None:
            return None
        cfg = dict(num_adapters=4, ratio=0.25, scale=1.0, dropout=0.0)
        unknown = set(adapters) - set(cfg)
        if unknown:
            raise ValueError(f'unknown adapters keys {sorted(unknown)}; '
                             f'expected {sorted(cfg)}')
        cfg.update(adapters)
        for key in ('ratio', 'scale', 'dropout'):
            value = cfg[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f'adapters {key}={value!r} must be a number')
        if not 0 <= cfg['dropout'] < 1:
            raise ValueError(f"adapters dropout={cfg['dropout']!r} must be in "
                             '[0, 1)')
        if cfg['num_adapters'] not in QKV_ADAPTERS:
            raise ValueError(f"adapters num_adapters={cfg['num_adapters']!r}: "
                             f'choose from {sorted(QKV_ADAPTERS)}')
        return cfg

    @staticmethod
    def _check_peft(peft: Optional[dict],
                    adapters: Optional[dict]) -> Optional[dict]:
        if peft is None:
            return None
        if not isinstance(peft, dict) or peft.get('type') not in PEFT_METHODS:
            raise ValueError(f'peft={peft!r}: expected dict(type=...) with '
                             f'type in {sorted(PEFT_METHODS)}')
        if adapters is not None:
            raise ValueError(f"peft type {peft['type']!r} replaces the linear "
                             'adapters: set adapters=None')
        return dict(peft)

    def _attach_peft(self) -> None:
        """Give every block the ``peft`` method (layers/__init__.py)."""
        cfg = dict(self.peft_cfg)
        attach = PEFT_METHODS[cfg.pop('type')]
        for block, frames in zip(self.transformer.resblocks,
                                 self.frames_per_block):
            module = attach(block, self.embed_dims, frames, self.grid_size,
                            **cfg)
            if module is not None:
                block.peft = module

    @property
    def peft_mergeable(self) -> bool:
        """Whether ``peft`` (if any) folds into the linears when merging."""
        return self.peft_cfg is None or self.peft_cfg['type'] in MERGEABLE_PEFT

    @property
    def out_frames(self) -> int:
        """Frames in the output (T halved once per compression layer)."""
        return self.frames_per_block[-1]

    def _init_random_weights(self) -> None:
        """CLIP's initialisation, used where no pretrained weights are given."""
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

    def trainable_name(self, name: str) -> bool:
        """Whether parameter ``name`` trains when the image model is frozen."""
        return ('adapters' in name or 'output_adapter' in name or
                any(marker in name for marker in PEFT_PARAM_MARKERS) or
                name.startswith(('temporal_embedding', 'ln_post.',
                                 'compressors.')))

    def _freeze_pretrained(self) -> None:
        for name, param in self.named_parameters():
            param.requires_grad_(self.trainable_name(name))

    def init_weights(self) -> None:
        """Load ``pretrained`` (if any) and run ``init_cfg``.

        Raises:
            FileNotFoundError: ``pretrained`` is given but absent (before
                anything else is initialised).
        """
        if self.pretrained:
            check_pretrained_file(self.pretrained)
        super().init_weights()
        # A parent's init_cfg (TruncNormal on every Linear, ...) also reaches
        # the compression layers: give them back their start (a fresh layer
        # averages each pair).
        for layer in self.compressors.values():
            layer.reset_parameters()
        if self.pretrained:
            load_backbone_state_dict(self, self.pretrained)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Refuse a checkpoint that does not fit this model, then load as
        usual. Runs under torch's and MMEngine's loaders alike (MMEngine's,
        used by ``load_from``, ``--resume``, ``mim test`` and
        ``init_recognizer``, only warns about mismatches otherwise).

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
        check_checkpoint_adapters(state_dict, prefix, self)
        trained_act = (args[0] or {}).get('act') if args else None
        if trained_act is not None and trained_act != self.act:
            raise CheckpointMismatchError(
                f'checkpoint was trained with act={trained_act!r} (recorded '
                f'in its metadata for {prefix.rstrip(".") or "the backbone"}),'
                f' but this model has act={self.act!r}: the features would '
                f'differ. Set model.backbone.act={trained_act!r}')
        # A small checkpoint (frozen weights left out, SmallCheckpointHook)
        # loads once restore_small_checkpoint has put them back; unrestored,
        # it is refused saying so (not as a truncated checkpoint).
        small = (args[0] or {}).get(METADATA_KEY) if args else None
        if small is not None:
            refuse_unrestored(state_dict, prefix, self, small)
        check_checkpoint_fits(
            state_dict, prefix, self, require_all=bool(prefix) and (
                not self.is_init or loading_for_resume()))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, T, H, W) -> (N, C, T', 1, 1) or (N, C, T', H/p, W/p)."""
        if x.dim() != 5:
            raise ValueError(f'ZeroI2VViT expects (N, 3, T, H, W) clips, got '
                             f'shape {tuple(x.shape)}')
        batch, _, frames, height, width = x.shape
        if frames != self.num_frames:
            raise ValueError(
                f'input has {frames} frames but the backbone was built with '
                f'num_frames={self.num_frames}; make the pipeline clip_len '
                'match model.backbone.num_frames')
        grid = (height // self.patch_size, width // self.patch_size)
        if grid != self.grid_size:
            raise ValueError(
                f'input frames of {height}x{width} give a {grid} patch grid, '
                f'the backbone was built for {self.grid_size} '
                f"(image_size={self.arch['image_size']})")
        x = x.transpose(1, 2).flatten(0, 1)  # (N*T, 3, H, W), time-major rows
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (N*T, h*w, C)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        if self.temporal_embedding is not None:
            x = x + self.temporal_embedding.to(x.dtype).repeat(batch,
                                                              1)[:, None]
        x = self.ln_pre(x)
        for index, block in enumerate(self.transformer.resblocks):
            compressor = self.compressors[str(index)] if str(
                index) in self.compressors else None
            if compressor is not None:
                x = compressor(x, self.frames_per_block[index - 1])
            if self.with_cp and x.requires_grad:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        out_frames = self.out_frames
        if self.output == 'cls':
            x = self.ln_post(x[:, 0])  # (N*T', C)
            return x.view(batch, out_frames, -1).permute(0, 2, 1)[..., None,
                                                                   None]
        x = self.ln_post(x[:, 1:])  # (N*T', h*w, C)
        x = x.view(batch, out_frames, *self.grid_size, -1)
        return x.permute(0, 4, 1, 2, 3).contiguous()
