"""InTI^temp: MMAction2's UniFormerV2 with frame compression between blocks.

The InTI paper's main results (its Tables 2-5) put InTI layers into a CLIP
ViT that also carries UniFormerV2's temporal modules (Sec. 4.1: "we further
introduce the temporal modules in [18], combined with InTI"). This module
reuses MMAction2's :class:`~mmaction.models.backbones.UniFormerV2` as it is
(patch embedding, local UniBlocks with their optional local MHRA, the global
UniBlocks with their DPE convs, the final fusion) and only adds what the
paper adds: after the chosen blocks a compression layer halves the frames,
and every later module (local MHRA, DPE, global block) works on the halved
frame count.

Only the loop over the blocks is written here (MMAction2's
``Transformer.forward`` runs all blocks at one frame count and has no place
for a layer between blocks); every module it calls is MMAction2's.
"""
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from torch import Tensor

from mmaction.models.backbones.uniformerv2 import _MODELS, UniFormerV2
from mmaction.registry import MODELS

from ...compat import use_safe_checkpoint_loader
from ...utils.small_checkpoint import SmallCheckpointBackbone
from ..compressors.build import build_compressors, frames_per_block
from ..utils.weights import (check_checkpoint_fits, check_pretrained_file,
                             read_state_dict)


def _to_uniformerv2_keys(state: Dict[str, Tensor],
                         path: str) -> Dict[str, Tensor]:
    """CLIP visual-tower keys (OpenAI / open_clip / MMEngine checkpoint of
    this backbone) -> UniFormerV2's names, which are CLIP's own."""
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    for prefix in ('backbone.', 'visual.'):
        if any(k.startswith(prefix) for k in state):
            state = {
                k[len(prefix):]: v
                for k, v in state.items() if k.startswith(prefix)
            }
            break
    if 'conv1.weight' not in state:
        raise ValueError(
            f'{path}: not a CLIP-style ViT (no conv1.weight among keys like '
            f'{sorted(state)[:5]}); expected an OpenAI/open_clip CLIP model, '
            'its visual tower, or an MMEngine checkpoint of this backbone')
    # ZeroI2VViT checkpoints name the in-projection like an nn.Linear
    return {
        k.replace('attn.in_proj.weight', 'attn.in_proj_weight').replace(
            'attn.in_proj.bias', 'attn.in_proj_bias'):
        v
        for k, v in state.items()
    }


@MODELS.register_module()
class UniFormerV2InTI(SmallCheckpointBackbone, UniFormerV2):
    """UniFormerV2 with InTI / LinearPooling / ConvPooling between blocks.

    Args:
        compress (dict, optional): ``dict(type='InTI', after_blocks=(5, 7),
            **layer_kwargs)`` (also ``'LinearPooling'``, ``'ConvPooling'``).
            ``after_blocks`` counts blocks from 1: 5 means between the 5th and
            the 6th block; each layer halves the frame count. None = plain
            UniFormerV2.
        pretrained (str, optional): a local weights file: an OpenAI CLIP JIT
            archive, an open_clip checkpoint / state dict (whole CLIP or its
            visual tower), or an MMEngine checkpoint of this backbone. Loaded
            by :meth:`init_weights` (the patch embedding is inflated to 3D as
            UniFormerV2 does). One of UniFormerV2's own names
            (``'ViT-B/16'``, ...) still downloads through MMAction2.
        clip_pretrained (bool): load ``pretrained`` in :meth:`init_weights`
            (default: whenever ``pretrained`` is given).
        global_tap (str): where a global UniBlock reads a block that is also
            followed by a compression layer (only InTI_{7,9} on ViT-B hits
            this: block 9 is in ``return_list``): ``'before'`` the layer
            (its full frame count, default) or ``'after'`` it.
        **kwargs: everything else is UniFormerV2's (``width``, ``layers``,
            ``heads``, ``patch_size``, ``input_resolution``, ``t_size``,
            ``no_lmhra``, ``double_lmhra``, ``return_list``, ``n_layers``,
            ``n_dim``, ``n_head``, ``mlp_dropout``, ``init_cfg``, ...).

    Shapes: input ``(N, 3, T, H, W)`` with ``T = t_size``; output ``(N, C)``
    (UniFormerV2's fused global token), for ``UniFormerHead``.
    """

    def __init__(self,
                 compress: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 clip_pretrained: Optional[bool] = None,
                 global_tap: str = 'before',
                 **kwargs):
        if clip_pretrained is None:
            clip_pretrained = pretrained is not None
        # mim test / mim train of these configs read MMEngine checkpoints
        # with the package's safe loader, as for ZeroI2VViT
        use_safe_checkpoint_loader()
        if pretrained is not None and pretrained not in _MODELS:
            pretrained = check_pretrained_file(pretrained)
        super().__init__(
            pretrained=pretrained, clip_pretrained=clip_pretrained, **kwargs)
        if global_tap not in ('before', 'after'):
            raise ValueError(f"global_tap={global_tap!r}: choose 'before' or "
                             "'after'")
        self.global_tap = global_tap
        width = self.transformer.resblocks[0].ln_1.normalized_shape[0]
        patch_size = self.conv1.kernel_size[-1]
        self.embed_dims = width
        self.grid_size = (self.input_resolution // patch_size, ) * 2
        # Input frames: t_size, or twice the blocks' frames when UniFormerV2's
        # temporal_downsample stem already halves them.
        self.num_frames = self.transformer.T * self.conv1.stride[0]
        # What analysis.view_shape reads to build one input view.
        self.arch = dict(
            width=width,
            layers=len(self.transformer.resblocks),
            patch_size=patch_size,
            image_size=self.input_resolution)
        self.compress_cfg = dict(compress) if compress else None
        self.frames_per_block = frames_per_block(
            self.transformer.T,
            len(self.transformer.resblocks),
            self.compress_cfg,
            frames_name='t_size')
        self.compressors = build_compressors(self.compress_cfg, width,
                                             self.frames_per_block,
                                             self.grid_size)

    # ------------------------------------------------------------------ build
    @property
    def out_frames(self) -> int:
        return self.frames_per_block[-1]

    # ----------------------------------------------------------------- init
    def _load_pretrained(self, pretrained: Optional[str] = None) -> None:
        """Load CLIP weights from a local file (UniFormerV2's own names still
        download through MMAction2), inflating the 2D patch embedding."""
        if pretrained in _MODELS and not osp.isfile(str(pretrained)):
            return super()._load_pretrained(pretrained)
        state = self.read_frozen_source(pretrained)
        missing, unexpected = self.load_state_dict(state, strict=False)
        print_log(
            f'{pretrained}: loaded; {len(missing)} keys not in the file '
            f'kept as initialised (temporal modules, compression '
            f'layers); ignored {len(unexpected)} keys: {unexpected}',
            logger='current')

    def read_frozen_source(self, pretrained: str) -> Dict[str, Tensor]:
        """The CLIP tensors of the local file ``pretrained`` in this
        backbone's names and shapes (the 2D patch embedding inflated), as
        :meth:`init_weights` loads them; a small checkpoint's frozen weights
        come back from here."""
        state = _to_uniformerv2_keys(read_state_dict(pretrained), pretrained)
        own = self.state_dict()
        for key, value in list(state.items()):
            if key not in own or own[key].shape == value.shape:
                continue
            if key == 'conv1.weight' and value.dim() == 4 and \
                    own[key].dim() == 5:
                state[key] = self._inflate_weight(value, own[key].shape[2])
                continue
            raise ValueError(
                f'{pretrained}: shape mismatch for {key}: checkpoint '
                f'{tuple(value.shape)} vs model {tuple(own[key].shape)} (a '
                'checkpoint for another model size, patch or image size?)')
        return state

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args,
                              **kwargs):
        """Complete a small checkpoint (frozen weights from the image model
        it records, fingerprint-checked), refuse tensors of other shapes and,
        for a whole model loaded for testing or resuming, missing keys; then
        load as usual (MMEngine's loader would only warn)."""
        self.complete_frozen_weights(state_dict, prefix, local_metadata)
        check_checkpoint_fits(state_dict, prefix, self)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      *args, **kwargs)

    def init_weights(self) -> None:
        """UniFormerV2's init (run ``init_cfg``, or load ``pretrained``), with
        the compression layers at their own start (a fresh layer averages
        each pair) whatever ``init_cfg`` this module or a parent applied;
        weights of these layers in ``pretrained`` (a checkpoint of this
        backbone) are loaded over that start, not reset."""
        if not self.clip_pretrained:
            super().init_weights()
        for layer in self.compressors.values():
            layer.reset_parameters()
        if self.clip_pretrained:
            super().init_weights()  # UniFormerV2: loads the file, nothing else

    # ---------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, T, H, W) -> (N, C)."""
        if x.dim() != 5:
            raise ValueError(f'{type(self).__name__} expects (N, 3, T, H, W) '
                             f'clips, got shape {tuple(x.shape)}')
        if x.shape[2] != self.num_frames:
            raise ValueError(
                f'input has {x.shape[2]} frames but the backbone was built '
                f'for t_size={self.num_frames}; make the pipeline clip_len '
                'match model.backbone.t_size')
        x = self.conv1(x)  # (N, C, T, h, w)
        batch, dims, frames, height, width = x.shape
        if (height, width) != self.grid_size:
            raise ValueError(
                f'input gives a {(height, width)} patch grid, the backbone '
                f'was built for {self.grid_size} (input_resolution='
                f'{self.input_resolution})')
        x = x.permute(0, 2, 3, 4, 1).reshape(batch * frames, -1, dims)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)  # (1+h*w, N*T, C), rows n*T + t
        return self._blocks(x, batch)

    def _global_block(self, index: int, x: Tensor, cls_token: Tensor,
                      batch: int, frames: int) -> Tensor:
        """Global UniBlock ``index`` (DPE + cross-attention of the video
        token to all tokens), as in MMAction2's ``Transformer.forward``.

        Shapes: x ``(L, N*T, C)``; cls_token ``(1, N, C)`` -> ``(1, N, C)``.
        """
        trans = self.transformer
        length, _, dims = x.shape
        h, w = self.grid_size
        feats = x.view(length, batch, frames, dims)
        patches = feats[1:].permute(1, 3, 2,
                                    0).reshape(batch, dims, frames, h, w)
        dpe = trans.dpe[index](patches).view(batch, dims, frames, length - 1)
        feats = torch.cat([feats[:1], feats[1:] + dpe.permute(3, 0, 2, 1)])
        feats = feats.permute(2, 0, 1, 3).flatten(0, 1)  # (T*L, N, C)
        return trans.dec[index](cls_token, feats)

    def _blocks(self, x: Tensor, batch: int) -> Tensor:
        """MMAction2's ``Transformer.forward`` with compression between
        blocks: x ``(L, N*T, C)`` -> ``(N, C)``."""
        trans = self.transformer
        length, _, dims = x.shape
        frames = trans.T
        cls_token = trans.temporal_cls_token.repeat(1, batch, 1)
        taps = list(trans.return_list)
        for index, block in enumerate(trans.resblocks):
            x = block(x, frames)
            key = str(index + 1)
            compressor = (
                self.compressors[key] if key in self.compressors else None)
            tap = index in taps
            if tap and (compressor is None or self.global_tap == 'before'):
                cls_token = self._global_block(
                    taps.index(index), x, cls_token, batch, frames)
                tap = False
            if compressor is not None:
                # layers take (N*T, L, C) with rows n*T + t
                x = compressor(x.permute(1, 0, 2), frames).permute(1, 0, 2)
                frames //= 2
            if tap:
                cls_token = self._global_block(
                    taps.index(index), x, cls_token, batch, frames)
        weight = trans.sigmoid(trans.balance)
        residual = x.view(length, batch, frames, dims)[0].mean(1)  # (N, C)
        return trans.norm((1 - weight) * cls_token[0] + weight * residual)
