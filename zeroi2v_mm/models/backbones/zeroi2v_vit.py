"""ZeroI2VViT: an image ViT (CLIP, timm or mmpretrain layout) run over video.

Every frame goes through the image model; temporal modelling comes only from
STDHA head relocation (no parameters, no FLOPs), adaptation from linear
adapters that fold into the frozen linears after training, and optional
temporal compression layers (InTI and its baselines) between blocks.
"""
import ast
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmaction.registry import MODELS

from ..compressors.build import build_compressors, frames_per_block
from ..layers.stdha import parse_head_offsets
from ..peft import AdapterBlock, PEFTMethod, build_method, method_config
from .image_vit import ResidualAttentionBlock, ZeroI2VImageViT


def check_clip(x: Tensor, num_frames: int, owner: str) -> torch.Size:
    """The shape ``(N, 3, T, H, W)`` of a batch of clips, checked to be
    5-D with the ``num_frames`` the backbone ``owner`` was built for."""
    if x.dim() != 5:
        raise ValueError(f'{owner} expects (N, 3, T, H, W) clips, got '
                         f'shape {tuple(x.shape)}')
    frames = x.shape[2]
    if frames != num_frames:
        raise ValueError(
            f'input has {frames} frames but the backbone was built with '
            f'num_frames={num_frames}; make the pipeline clip_len '
            'match model.backbone.num_frames')
    return x.shape


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
            raise ValueError(
                f'stdha offsets={given!r} is not readable; '
                'write [(-1, 1), (1, 1)] or {-1: 1, 1: 1}') from None
    if isinstance(offsets, (list, tuple)):
        pairs = list(offsets)
        if not all(
                isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs):
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


@MODELS.register_module()
class ZeroI2VViT(ZeroI2VImageViT):
    """Image ViT over video with STDHA, linear adapters and frame compression.

    The image ViT (:class:`ZeroI2VImageViT`: patch and positional
    embeddings, blocks, ``ln_post``) run on every frame, plus the temporal
    embedding, STDHA in every block, an adaptation method
    (:mod:`zeroi2v_mm.models.peft`) and frame compression between blocks.

    Args:
        arch (str | dict): ``'ViT-B/16'``, ``'ViT-L/14'``, ``'ViT-B/32'`` or
            ``dict(width=, layers=, heads=, patch_size=, image_size=)``.
        num_frames (int): Frames T of every input clip.
        pretrained (str, optional): Image (or video) weights to start from,
            read when training starts; see :class:`ZeroI2VImageViT`.
        drop_path_rate (float): Stochastic depth, rising linearly over blocks.
        stdha (dict, optional): ``dict(offsets=[(-1, 1), (1, 1)])``: ``(dt,
            heads)`` pairs, each the number of heads reading keys/values from
            frame t + dt, assigned from head 0 upward in the listed order
            (a dict ``{dt: heads}`` is read too, see
            :func:`normalize_offsets`). None = spatial. The sign convention,
            the released head order and why pairs: docs/en/advanced_guides/
            stdha.md.
        adapters (dict, optional): ``dict(num_adapters=4 or 6, ratio=0.25,
            scale=0.5, dropout=0.1)``. None = no adapters. 3 = 4 without
            the adapter after MLP fc2 (the reference's ``num_tadapter=1``).
        compress (dict, optional): temporal compression between blocks,
            ``dict(type='InTI', after_blocks=(5, 7), ...)`` (also
            ``'LinearPooling'``, ``'ConvPooling'``). ``after_blocks`` counts
            blocks from 1: 5 means between the 5th and the 6th block. Each
            layer halves the frame count.
        act (str, optional): ``'quick_gelu'`` (OpenAI CLIP weights) or
            ``'gelu'``; None = the style's. Saved with the weights (state-dict
            metadata); loading a checkpoint trained with the other activation
            is refused.
        style (str): ``'clip'``, ``'timm'`` or ``'mmpretrain'``: the layout
            of the image ViT (see :class:`ZeroI2VImageViT`).
        layer_scale (float, optional): LayerScale initial value
            (DINOv2-style weights); None = none.
        peft (dict, optional): a comparison method of ZeroI2V Tables 3 / 4
            instead of the linear adapters (needs ``adapters=None``):
            ``dict(type='AIM', ratio=0.25, scale=0.5, num_tadapter=2)``,
            ``dict(type='STAdapter', channels=384, kernel_size=(3, 1, 1),
            positions=('mlp',))``, ``dict(type='GELUAdapter', ratio=0.25,
            scale=, dropout=)`` (dense placement),
            ``dict(type='LoRA', rank=, alpha=, dropout=, targets=)`` or
            ``dict(type='TemporalHeads')`` (only the STDHA temporal heads'
            Q/K/V/out slices train). LoRA and TemporalHeads merge like the
            adapters; the others stay at inference. Any method registered in
            ``zeroi2v_mm.models.peft.PEFT_METHODS`` (one file each under
            ``zeroi2v_mm/models/peft/``;
            docs/en/advanced_guides/adding_a_method.md).
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
                 act: Optional[str] = None,
                 style: str = 'clip',
                 layer_scale: Optional[float] = None,
                 peft: Optional[dict] = None,
                 freeze_pretrained: bool = True,
                 output: str = 'cls',
                 with_cp: bool = False,
                 temporal_embedding: bool = True,
                 init_cfg: Optional[dict] = None):
        # Read by the build hooks below, which the image ViT's __init__
        # calls; plain attributes can be set before nn.Module's __init__.
        self.num_frames = num_frames
        self._settings = dict(
            stdha=stdha,
            adapters=adapters,
            peft=peft,
            compress=compress,
            temporal_embedding=temporal_embedding)
        super().__init__(
            arch=arch,
            pretrained=pretrained,
            drop_path_rate=drop_path_rate,
            act=act,
            output=output,
            with_cp=with_cp,
            style=style,
            layer_scale=layer_scale,
            init_cfg=init_cfg)
        del self._settings
        self.freeze_pretrained = freeze_pretrained
        if freeze_pretrained:
            self._freeze_pretrained()

    # ------------------------------------------------------------------ build
    def _check_settings(self) -> None:
        num_frames, settings = self.num_frames, self._settings
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f'num_frames={num_frames!r} must be a positive '
                             'integer')
        self.stdha_cfg = self._check_stdha(settings['stdha'])
        # The one adaptation method: adapters=dict(...) is shorthand for the
        # registered LinearAdapters, peft=dict(type=...) names any method.
        self._method_cfg = method_config(settings)
        self.method: Optional[PEFTMethod] = build_method(self._method_cfg)
        self.compress_cfg = dict(settings['compress']) \
            if settings['compress'] else None
        layers, heads = self.arch['layers'], self.arch['heads']
        self.frames_per_block = frames_per_block(num_frames, layers,
                                                 self.compress_cfg)
        for block, frames in enumerate(self.frames_per_block):
            try:
                parse_head_offsets(self.stdha_offsets, heads, frames)
            except ValueError as error:
                raise ValueError(f'stdha in block {block} ({frames} frames): '
                                 f'{error}') from None

    @property
    def stdha_offsets(self) -> Optional[Dict[int, int]]:
        return self.stdha_cfg['offsets'] if self.stdha_cfg else None

    def _build_input_embeddings(self) -> None:
        # Added to every token of frame t (CLS included) after the positional
        # embedding; zeros keep the image model's function at the start.
        self.temporal_embedding = (
            nn.Parameter(torch.zeros(self.num_frames, self.embed_dims))
            if self._settings['temporal_embedding'] else None)

    def _build_block(self, index: int, drop_path: float) -> nn.Module:
        return ResidualAttentionBlock(
            self.arch['width'],
            self.arch['heads'],
            self.frames_per_block[index],
            self.stdha_offsets,
            self.act,
            drop_path,
            wrap_linear=self.method.wrap_linear if self.method else None,
            eps=self.norm_eps,
            layer_scale=self.layer_scale)

    def _build_after_blocks(self) -> None:
        blocks = self.transformer.resblocks
        if self.method is not None:
            for index, frames in enumerate(self.frames_per_block):
                blocks[index] = self.method.adapt_block(
                    blocks[index], self.embed_dims, frames, self.grid_size)
                if self.layer_scale is not None and isinstance(
                        blocks[index], AdapterBlock):
                    raise ValueError(
                        f"peft type {self.method_cfg['type']!r} runs its own "
                        'block forward, which has no LayerScale: use it with '
                        'layer_scale=None (LoRA and TemporalHeads work with '
                        'LayerScale)')
        self.compressors = build_compressors(self.compress_cfg,
                                             self.embed_dims,
                                             self.frames_per_block,
                                             self.grid_size)

    @staticmethod
    def _check_stdha(stdha: Optional[dict]) -> Optional[dict]:
        if stdha is None:
            return None
        unknown = set(stdha) - {'offsets'}
        if unknown:
            raise ValueError(f'unknown stdha keys {sorted(unknown)}; '
                             "expected dict(offsets={dt: heads})")
        return dict(offsets=normalize_offsets(stdha.get('offsets')))

    @property
    def method_cfg(self) -> Optional[dict]:
        """The adaptation method as ``dict(type=...)`` (``adapters=`` as
        ``type='LinearAdapters'``); None without one, or once merged."""
        return self._method_cfg if self.method is not None else None

    @property
    def out_frames(self) -> int:
        """Frames in the output (T halved once per compression layer)."""
        return self.frames_per_block[-1]

    def trainable_parameters(self):
        """The parameters that train when the image model is frozen: the
        method's (read from its modules), the temporal embedding, ln_post and
        the compression layers."""
        if self.method is not None:
            for block in self.transformer.resblocks:
                yield from self.method.trainable_parameters(block)
        if self.temporal_embedding is not None:
            yield self.temporal_embedding
        yield from self.ln_post.parameters()
        yield from self.compressors.parameters()

    def _freeze_pretrained(self) -> None:
        self.requires_grad_(False)
        for param in self.trainable_parameters():
            param.requires_grad_(True)

    def _after_init_cfg(self) -> None:
        # A parent's init_cfg (TruncNormal on every Linear, ...) also reaches
        # the compression layers: give them back their start (a fresh layer
        # averages each pair).
        for layer in self.compressors.values():
            layer.reset_parameters()

    # ---------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, T, H, W) -> (N, C, T', 1, 1) or (N, C, T', H/p, W/p)."""
        batch, _, _, height, width = check_clip(x, self.num_frames,
                                                'ZeroI2VViT')
        self._check_grid(height, width)
        x = x.transpose(1, 2).flatten(0, 1)  # (N*T, 3, H, W), time-major rows
        x = self.embed_patches(x)  # (N*T, 1 + h*w, C)
        if self.temporal_embedding is not None:
            x = x + self.temporal_embedding.to(x.dtype).repeat(batch, 1)[:,
                                                                         None]
        x = self.ln_pre(x)
        for index, block in enumerate(self.transformer.resblocks):
            compressor = self.compressors[str(index)] if str(
                index) in self.compressors else None
            if compressor is not None:
                x = compressor(x, self.frames_per_block[index - 1])
            x = self.run_block(block, x)
        out_frames = self.out_frames
        if self.output == 'cls':
            x = self.ln_post(x[:, 0])  # (N*T', C)
            return x.view(batch, out_frames, -1).permute(0, 2, 1)[..., None,
                                                                  None]
        x = self.ln_post(x[:, 1:])  # (N*T', h*w, C)
        x = x.view(batch, out_frames, *self.grid_size, -1)
        return x.permute(0, 4, 1, 2, 3).contiguous()
