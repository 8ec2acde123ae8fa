"""ZeroI2VSwin: a 2D Swin Transformer run over video with STDHA in its
window attention (ZeroI2V paper, Table 14 and Table 11(e)).

Every frame (or every ``tubelet`` frames, see below) goes through
mmpretrain's ``SwinTransformer``: same modules, same parameter names, same
relative position bias, so an mmpretrain Swin checkpoint loads unchanged.
Only the window attention differs: its temporal heads read the keys and
values of the *same window* (same spatial positions, same cyclic shift) in
frame ``t + dt``. Because every frame of a clip is partitioned into windows
in the same way, window ``w`` of frame ``t`` and window ``w`` of frame
``t + dt`` cover the same pixels; the windows of a batch are laid out
``(batch, frame, window)``-major, so moving a head in time is the ViT's
STDHA time shift on a ``(N*T, nW, L, ..., heads, d)`` view.

Adaptation goes through the same methods as the ViT's
(:mod:`zeroi2v_mm.models.peft`): each Swin block names its linears by the
ViT's roles (:func:`block_linears`), so the linear adapters sit where ZeroI2V
puts them in a ViT block (before qkv, after the attention projection, before
fc1, after fc2), LoRA and SSF where they go in the ViT; they fold away after
training (:mod:`zeroi2v_mm.reparam`), leaving the plain Swin of the same
config.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.models.backbones.swin_transformer import SwinTransformer
from mmpretrain.models.utils.attention import ShiftWindowMSA, WindowMSA
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from mmaction.registry import MODELS

from ...compat import use_safe_checkpoint_loader
from ...utils.small_checkpoint import SmallCheckpointBackbone
from ..layers.linear_adapter import AdaptedLinear
from ..layers.stdha import (is_tracing_or_exporting, parse_head_offsets,
                            relocate_heads, shift_heads_in_time_,
                            source_frames)
from ..peft import PEFTMethod, build_method, method_config
from ..utils.weights import (check_checkpoint_adapters, check_checkpoint_fits,
                             check_pretrained_file, load_and_log,
                             read_state_dict)
from .zeroi2v_vit import check_clip, normalize_offsets


class STDHAWindowMSA(WindowMSA):
    """mmpretrain's window attention (relative position bias, same names)
    with STDHA temporal heads, on ``scaled_dot_product_attention``.

    Args:
        embed_dims, window_size, num_heads, ...: as ``WindowMSA``.
        num_frames (int): frames T of the clip this layer sees.
        offsets (dict, optional): ``{dt: heads}``, head order as listed (see
            :func:`zeroi2v_mm.models.layers.stdha.parse_head_offsets`).

    Shapes: ``(N*T*nW, L, C) -> (N*T*nW, L, C)`` with ``L = Wh*Ww``, rows
    ``(batch, frame, window)``-major (what ``window_partition`` of
    ``(N*T, H, W, C)`` maps gives).
    """

    def __init__(self,
                 embed_dims: int,
                 window_size: Sequence[int],
                 num_heads: int,
                 num_frames: int = 1,
                 offsets: Optional[Dict[int, int]] = None,
                 **kwargs):
        super().__init__(embed_dims, window_size, num_heads, **kwargs)
        self.num_frames = num_frames
        self.offsets = dict(offsets or {})
        self.head_groups = parse_head_offsets(self.offsets, num_heads,
                                              num_frames)
        for index, source in enumerate(
                source_frames(self.head_groups, num_frames)):
            self.register_buffer(
                f'source_frames_{index}', source, persistent=False)

    @property
    def group_sources(self) -> List[Tensor]:
        return [
            getattr(self, f'source_frames_{index}')
            for index in range(len(self.head_groups))
        ]

    def forward(self,
                x: Tensor,
                mask: Optional[Tensor] = None,
                num_windows: int = 1) -> Tensor:
        """
        Args:
            x: ``(N*T*nW, L, C)`` windows.
            mask: ``(nW, L, L)`` shifted-window mask (0 / -100) or None.
            num_windows: nW, windows per frame (needed to find the frames).
        """
        rows, length, channels = x.shape
        heads = self.num_heads
        head_dims = channels // heads
        frames = self.num_frames
        if not torch.jit.is_tracing() and rows % (frames * num_windows):
            raise ValueError(f'{rows} windows are not a whole number of '
                             f'{frames}-frame clips of {num_windows} windows')
        qkv = self.qkv(x).view(rows, length, 3, heads, head_dims)
        if self.head_groups and is_tracing_or_exporting():
            # Gathers + concat (what exporters keep), frames on their own dim.
            qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, N*T*nW, H, L, d)
            kv = qkv[1:].reshape(2, -1, frames, num_windows, heads, length,
                                 head_dims)
            kv = relocate_heads(
                kv,
                self.head_groups,
                self.group_sources,
                heads,
                frame_dim=2,
                head_dim=4)
            k, v = kv.reshape(2, rows, heads, length, head_dims).unbind(0)
            q = qkv[0]
        else:
            # In place on the fresh projection: rows (N*T) with the windows
            # as an inner dim, so window w of frame t gets window w of frame
            # t + dt; only keys and values move (paper Table 1, "HR KV").
            by_frame = qkv.view(rows // num_windows, num_windows, length, 3,
                                heads, head_dims)
            shift_heads_in_time_(by_frame[:, :, :, 1:], self.head_groups,
                                 frames)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(
                length, length, heads).permute(2, 0, 1)  # (H, L, L)
        if mask is not None:
            windows = mask.shape[0]
            attn_mask = bias + mask[:, None].to(bias.dtype)  # (nW, H, L, L)
            q, k, v = (
                t.reshape(-1, windows, heads, length, head_dims)
                for t in (q, k, v))
        else:
            attn_mask = bias
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask.to(q.dtype),
            dropout_p=self.attn_drop.p if self.training else 0.0,
            scale=self.scale)
        out = out.reshape(rows, heads, length, head_dims).transpose(1, 2)
        out = self.proj(out.reshape(rows, length, channels))
        return self.proj_drop(out)

    def extra_repr(self) -> str:
        return (f'num_heads={self.num_heads}, num_frames={self.num_frames}, '
                f'offsets={self.offsets}')


class STDHAShiftWindowMSA(ShiftWindowMSA):
    """``ShiftWindowMSA`` that tells its window attention how many windows a
    frame has (so that it can find the frames); otherwise the same steps:
    pad, cyclic shift, partition, attend, reverse, unshift, crop.

    Shapes: ``(N*T, H*W, C) -> (N*T, H*W, C)``.
    """

    def forward(self, query: Tensor, hw_shape: Sequence[int]) -> Tensor:
        rows, length, channels = query.shape
        height, width = hw_shape
        if length != height * width:
            raise ValueError(f'{length} tokens do not make a {height}x{width} '
                             'map')
        window, shift = self.window_size, self.shift_size
        # mmpretrain's rule (as the original Swin): a map exactly one window
        # wide is not shifted unless small maps are padded.
        if min(height, width) == window and not self.pad_small_map:
            shift = 0
        elif min(height, width) < window and not self.pad_small_map:
            raise ValueError(f'feature map {height}x{width} is smaller than '
                             f'window_size={window}: lower window_size or '
                             'use larger frames')
        x = query.view(rows, height, width, channels)
        x = F.pad(x, (0, 0, 0, (window - width % window) % window, 0,
                      (window - height % window) % window))
        padded = x.shape[1:3]
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        mask = self.get_attn_mask(padded, window, shift, device=x.device)
        num_windows = (padded[0] // window) * (padded[1] // window)
        windows = self.window_partition(x,
                                        window).view(-1, window * window,
                                                     channels)
        windows = self.w_msa(windows, mask=mask, num_windows=num_windows)
        x = self.window_reverse(
            windows.view(-1, window, window, channels), padded[0], padded[1],
            window)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = x[:, :height, :width].reshape(rows, length, channels)
        return self.drop(x)


def block_linears(block: nn.Module) -> Dict[str, Tuple[nn.Module, str]]:
    """The linears of an mmpretrain Swin block by role, ``(parent, name)``,
    named as in ZeroI2VViT's blocks so every linear-only method
    (:class:`~zeroi2v_mm.models.peft.PEFTMethod`) places its updates the
    same way: the packed Q, K, V ``attn.w_msa.qkv`` (``'attn.in_proj'``),
    ``attn.w_msa.proj`` (``'attn.out_proj'``), fc1 ``ffn.layers[0][0]``
    (``'mlp.c_fc'``) and fc2 ``ffn.layers[1]`` (``'mlp.c_proj'``). Patch
    merging and the patch embedding stay plain."""
    return {
        'attn.in_proj': (block.attn.w_msa, 'qkv'),
        'attn.out_proj': (block.attn.w_msa, 'proj'),
        'mlp.c_fc': (block.ffn.layers[0], '0'),
        'mlp.c_proj': (block.ffn.layers, '1'),
    }


@MODELS.register_module()
class ZeroI2VSwin(SmallCheckpointBackbone, SwinTransformer):
    """mmpretrain's 2D Swin Transformer over video, with STDHA and linear
    adapters.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'``, ``'large'``
            or ``dict(embed_dims=, depths=, num_heads=)`` (mmpretrain's).
        num_frames (int): frames T of every input clip.
        tubelet (int): frames per temporal patch. 1: every frame is an
            image. 2 (ZeroI2V Table 14: "its input length is halved after
            patch embedding, from 32 frames to 16"): the patch embedding is
            a ``Conv3d`` of kernel ``(2, p, p)``, inflated from a 2D
            checkpoint as Video Swin does (the 2D kernel repeated over time,
            divided by 2), and the Swin sees ``T / 2`` frames.
        img_size (int): frame size; windows and the FLOP count use it.
        patch_size (int): spatial patch size (4 for Swin).
        window_size (int): window side (7 for the ImageNet Swins).
        pretrained (str, optional): local mmpretrain ``ImageClassifier``
            checkpoint (``backbone.*`` keys; the head is dropped), a bare
            Swin state dict, or a checkpoint of this backbone. Read by
            :meth:`init_weights`; tensors of other shapes are refused,
            naming the key.
        stdha (dict, optional): ``dict(offsets=[stage_0, stage_1, ...])``,
            one entry per stage: ``None`` (spatial) or the stage's
            ``{dt: heads}`` / ``[(dt, heads), ...]`` (see
            :func:`~zeroi2v_mm.models.backbones.zeroi2v_vit.normalize_offsets`),
            used in every block of the stage. Offsets must fit ``T /
            tubelet`` frames.
        adapters (dict, optional): ``dict(num_adapters=4, ratio=0.25,
            scale=1.0, dropout=0.0)`` (ZeroI2V's linear adapters, placed as
            in ZeroI2VViT's blocks: :func:`block_linears`); None = plain
            Swin.
        peft (dict, optional): another method that adapts linears, instead
            of ``adapters``: ``dict(type='LoRA', ...)``, ``dict(type='SSF')``
            or any registered method with ``linears_only`` (see
            ``ZeroI2VViT``); Block variants (AIM, ST-Adapter, GELU adapters)
            and TemporalHeads need ZeroI2VViT's blocks and are refused.
        freeze_pretrained (bool): train only the method's parameters, the
            temporal embedding and the output norm.
        temporal_embedding (bool): a learnable zero-initialised ``(T/tubelet,
            C)`` embedding added to every patch token of each frame after
            the patch embedding. The paper does not say whether its Swin had
            one: off by default.
        drop_path_rate (float): stochastic depth over all blocks.
        with_cp (bool): gradient checkpointing per block.

    Shapes: ``(N, 3, T, H, W) -> (N, C_last, T / tubelet, H / 32, W / 32)``
    (normalised last-stage feature map; ``ZeroI2VHead`` averages it).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 num_frames: int = 8,
                 tubelet: int = 1,
                 img_size: int = 224,
                 patch_size: int = 4,
                 window_size: int = 7,
                 pretrained: Optional[str] = None,
                 stdha: Optional[dict] = None,
                 adapters: Optional[dict] = None,
                 peft: Optional[dict] = None,
                 freeze_pretrained: bool = True,
                 temporal_embedding: bool = False,
                 drop_path_rate: float = 0.0,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        use_safe_checkpoint_loader()
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f'num_frames={num_frames!r} must be a positive '
                             'integer')
        if not isinstance(tubelet, int) or tubelet < 1 or num_frames % tubelet:
            raise ValueError(f'tubelet={tubelet!r} must be a positive integer '
                             f'dividing num_frames={num_frames}')
        if img_size % patch_size:
            raise ValueError(f'img_size={img_size} is not a multiple of '
                             f'patch_size={patch_size}')
        settings = (
            self.arch_zoo.get(arch.lower()) if isinstance(arch, str) else arch)
        if settings is None:
            raise ValueError(f'unknown Swin arch {arch!r}; choose from '
                             f'{sorted(self.arch_zoo)} or give dict('
                             'embed_dims=, depths=, num_heads=)')
        frames = num_frames // tubelet
        offsets = self._check_stdha(stdha, settings['num_heads'], frames)
        stage_cfgs = [
            dict(
                block_cfgs=dict(
                    attn_cfgs=dict(
                        window_msa=STDHAWindowMSA,
                        num_frames=frames,
                        offsets=stage_offsets))) for stage_offsets in offsets
        ]
        super().__init__(
            arch=dict(settings),
            img_size=img_size,
            patch_size=patch_size,
            window_size=window_size,
            drop_path_rate=drop_path_rate,
            out_indices=(len(settings['depths']) - 1, ),
            with_cp=False,
            stage_cfgs=stage_cfgs,
            init_cfg=init_cfg)
        # Gradient checkpointing here, non-reentrant (mmpretrain's blocks
        # call torch's checkpoint without use_reentrant, which torch warns
        # about on every call).
        self.with_cp = with_cp
        self._use_stdha_window_attention()
        self.arch = dict(
            settings,
            image_size=img_size,
            patch_size=patch_size,
            window_size=window_size)
        self.num_frames = num_frames
        self.tubelet = tubelet
        self.frames = frames
        self.stdha_offsets = offsets
        self.pretrained = osp.expanduser(str(pretrained)) if pretrained \
            else None
        self.freeze_pretrained = freeze_pretrained
        self.out_norm = f'norm{len(settings["depths"]) - 1}'
        if tubelet > 1:
            # Video Swin's 3D patch embedding: kernel (tubelet, p, p).
            self.patch_embed.projection = nn.Conv3d(
                3,
                self.embed_dims, (tubelet, patch_size, patch_size),
                stride=(tubelet, patch_size, patch_size))
        self.temporal_embedding = (
            nn.Parameter(torch.zeros(frames, self.embed_dims))
            if temporal_embedding else None)
        self._method_cfg = method_config(dict(adapters=adapters, peft=peft))
        self.method: Optional[PEFTMethod] = build_method(self._method_cfg)
        if self.method is not None:
            if not self.method.linears_only:
                raise ValueError(
                    f"peft type {self._method_cfg['type']!r} needs "
                    "ZeroI2VViT's blocks (a Block variant, or STDHA head "
                    'tuning); ZeroI2VSwin takes the methods that adapt '
                    'linears (adapters=, LoRA, SSF)')
            for stage in self.stages:
                for block in stage.blocks:
                    self.method.adapt_linears(block_linears(block))
        if freeze_pretrained:
            self.requires_grad_(False)
            for param in self.trainable_parameters():
                param.requires_grad_(True)

    # ------------------------------------------------------------------ build
    def _use_stdha_window_attention(self) -> None:
        """mmpretrain builds ``ShiftWindowMSA`` for every block; give each
        block the subclass that passes the window count on (no parameters
        of its own: the ``w_msa`` module with the weights is kept)."""
        for stage in self.stages:
            for block in stage.blocks:
                block.attn.__class__ = STDHAShiftWindowMSA

    @staticmethod
    def _check_stdha(stdha: Optional[dict], heads: Sequence[int],
                     frames: int) -> List[Optional[Dict[int, int]]]:
        """Per stage, the STDHA offsets (None = spatial), checked."""
        if stdha is None:
            return [None] * len(heads)
        unknown = set(stdha) - {'offsets'}
        if unknown:
            raise ValueError(f'unknown stdha keys {sorted(unknown)}; expected '
                             'dict(offsets=[offsets of stage 0, ...])')
        per_stage = stdha.get('offsets')
        if not isinstance(per_stage,
                          (list, tuple)) or len(per_stage) != len(heads):
            raise ValueError(
                f'stdha offsets={per_stage!r} must list one entry per stage '
                f'({len(heads)} stages; None for a spatial stage)')
        offsets = []
        for stage, (given, stage_heads) in enumerate(zip(per_stage, heads)):
            value = None if given is None else normalize_offsets(given)
            try:
                parse_head_offsets(value, stage_heads, frames)
            except ValueError as error:
                raise ValueError(f'stdha in stage {stage} ({stage_heads} '
                                 f'heads, {frames} frames): {error}') from None
            offsets.append(value)
        return offsets

    @property
    def method_cfg(self) -> Optional[dict]:
        """The adaptation method as ``dict(type=...)``; None without one, or
        once merged."""
        return self._method_cfg if self.method is not None else None

    def trainable_parameters(self):
        """The parameters that train when the image model is frozen, read
        from the modules: the method's updates, the temporal embedding and
        the output norm."""
        for module in self.modules():
            if isinstance(module, AdaptedLinear):
                yield from module.update_parameters()
        if self.temporal_embedding is not None:
            yield self.temporal_embedding
        yield from getattr(self, self.out_norm).parameters()

    # ---------------------------------------------------------------- weights
    def init_weights(self) -> None:
        """mmpretrain's initialisation, then ``pretrained`` (if any)."""
        if self.pretrained:
            check_pretrained_file(self.pretrained)
        super().init_weights()
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, path: str) -> None:
        """Load an mmpretrain Swin checkpoint (or this backbone's) from
        ``path``: the ``backbone.*`` keys, non-strict (adapters and the
        temporal embedding start fresh), shapes checked."""
        load_and_log(self, self._pretrained_state(path), path)
        print_log(f'loaded Swin weights from {path}', logger='current')

    def read_frozen_source(self, path: str) -> Dict[str, Tensor]:
        """``path``'s Swin tensors in this backbone's names and shapes (the
        2D patch embedding inflated): a small checkpoint's frozen weights
        come back from here."""
        state = dict(self._pretrained_state(path))
        self._inflate_patch_embedding(state, '')
        return state

    def _inflate_patch_embedding(self, state: Dict[str, Tensor],
                                 prefix: str) -> None:
        """An image model's 2D patch embedding as the 3D one of
        ``tubelet`` frames (in place), its sum over time unchanged."""
        key = prefix + 'patch_embed.projection.weight'
        weight = state.get(key)
        if self.tubelet > 1 and weight is not None and weight.dim() == 4:
            state[key] = weight.unsqueeze(2).repeat(1, 1, self.tubelet, 1,
                                                    1) / self.tubelet

    def _pretrained_state(self, path: str) -> Dict[str, Tensor]:
        """The ``backbone.*`` tensors of an mmpretrain Swin file, in this
        backbone's names."""
        state = read_state_dict(check_pretrained_file(path))
        if all(key.startswith('module.') for key in state):
            state = {k[len('module.'):]: v for k, v in state.items()}
        if any(key.startswith('backbone.') for key in state):
            state = {
                k[len('backbone.'):]: v
                for k, v in state.items() if k.startswith('backbone.')
            }
        if 'norm.weight' in state and self.out_norm + '.weight' not in state:
            # Swin checkpoints older than mmcls 0.x's version 2 (e.g. some
            # converted ones) call the output norm 'norm'; mmpretrain renames
            # it on load for its own class only.
            # yapf: disable
            state = {
                (self.out_norm + k[len('norm'):]
                 if k.startswith('norm.') else k): v
                for k, v in state.items()
            }
            # yapf: enable
        if 'patch_embed.projection.weight' not in state:
            raise ValueError(
                f'{path}: not a Swin checkpoint (no patch_embed.projection.'
                f'weight among keys like {sorted(state)[:5]}); expected an '
                'mmpretrain SwinTransformer / ImageClassifier checkpoint')
        return state

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args,
                              **kwargs):
        """Complete a small checkpoint (frozen weights from the image model
        it records, fingerprint-checked), inflate a 2D patch embedding to the
        3D one, then refuse tensors of other shapes (naming the key) and, for
        a whole model loaded for testing or resuming, missing keys; then load
        as usual."""
        self.complete_frozen_weights(state_dict, prefix, local_metadata)
        self._inflate_patch_embedding(state_dict, prefix)
        for name in [
                k for k in state_dict
                if k.startswith(prefix) and 'attn_mask' in k
        ]:
            del state_dict[name]  # buffers of old Swin versions
        check_checkpoint_adapters(state_dict, prefix, self)
        check_checkpoint_fits(state_dict, prefix, self)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      *args, **kwargs)

    def train(self, mode: bool = True) -> 'ZeroI2VSwin':
        """As mmpretrain's, but returns the module (as ``nn.Module.train``
        does; mmpretrain's returns None, which breaks ``model.eval()``
        chains)."""
        super().train(mode)
        return self

    # ---------------------------------------------------------------- forward
    def embed_patches(self, x: Tensor):
        """``(N, 3, T, H, W)`` -> ``(N*T', h*w, C)`` tokens and ``(h, w)``."""
        if self.tubelet == 1:
            return self.patch_embed(x.transpose(1, 2).flatten(0, 1))
        x = self.patch_embed.projection(x)  # (N, C, T', h, w)
        hw_shape = tuple(x.shape[-2:])
        x = x.transpose(1, 2).flatten(0, 1).flatten(2).transpose(1, 2)
        return self.patch_embed.norm(x), hw_shape

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, T, H, W) -> (N, C, T', H/32, W/32)."""
        batch, _, _, height, width = check_clip(x, self.num_frames,
                                                'ZeroI2VSwin')
        if height % self.arch['patch_size'] or width % self.arch['patch_size']:
            raise ValueError(f'frames of {height}x{width} are not a multiple '
                             f"of patch_size={self.arch['patch_size']}")
        x, hw_shape = self.embed_patches(x)  # (N*T', h*w, C), T' = T/tubelet
        if self.temporal_embedding is not None:
            x = x + self.temporal_embedding.to(x.dtype).repeat(batch, 1)[:,
                                                                         None]
        x = self.drop_after_pos(x)
        for stage in self.stages:
            for block in stage.blocks:
                if self.with_cp and x.requires_grad:
                    x = checkpoint(block, x, hw_shape, use_reentrant=False)
                else:
                    x = block(x, hw_shape)
            if stage.downsample is not None:
                x, hw_shape = stage.downsample(x, hw_shape)
        x = getattr(self, self.out_norm)(x)  # (N*T', h*w, C)
        x = x.view(batch, self.frames, *hw_shape, -1)
        return x.permute(0, 4, 1, 2, 3).contiguous()
