"""Frame compression between transformer blocks: InTI and its two baselines.

InTI (dynamic Inter-frame Token Interpolation, Zhang et al., "Dynamic and
Compressive Adaptation of Transformers From Images to Videos", Sec. 3.2-3.3 and
appendix B) merges each pair of neighbouring frames ``(2j, 2j+1)`` token by
token, ``z = a * x_2j + b * x_2j+1`` with ``(a, b)`` predicted per token by a
small network, so the frame count halves. No public code exists; the paper is
the spec, and every place where this file had to decide is marked "Decision".

All three layers share one interface, so the backbone can swap them freely::

    layer = InTI(embed_dims=C, num_frames=T, grid_size=(h, w))
    z = layer(x, T)   # x: (B*T, 1 + h*w, C) -> z: (B*T/2, 1 + h*w, C)

Rows of ``x`` are ``(batch, time)`` major (row ``b*T + t``), the CLS token is
at
index 0 and the patch tokens follow in row-major ``h x w`` order. The output
has the same layout with ``T/2`` frames.

- :class:`InTI`: dynamic per-token weights (the paper's method).
- :class:`LinearPooling`: one learned pair of weights shared by all tokens and
  frames (paper baseline, Tab. 2/3).
- :class:`ConvPooling`: a strided 3D convolution over time (paper baseline).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmaction.registry import MODELS


def _ln_linear_gelu(in_dims: int, out_dims: int) -> nn.Sequential:
    """The paper's lightweight network ``T_{in->out}``: LayerNorm, Linear, GELU
    (Eq. 9 and 11). Shapes: ``(..., in_dims) -> (..., out_dims)``."""
    return nn.Sequential(
        nn.LayerNorm(in_dims), nn.Linear(in_dims, out_dims), nn.GELU())


class _PairMerge(BaseModule):
    """Shared checks and reshapes of the frame-halving layers.

    Args:
        embed_dims (int): Token width C.
        num_frames (int): Frame count T the layer receives; must be even.
        grid_size (tuple[int, int]): Patch grid ``(h, w)``.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_frames: int,
                 grid_size: Sequence[int],
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if int(num_frames) != num_frames or num_frames < 2 or num_frames % 2:
            raise ValueError(
                f'{type(self).__name__} merges frame pairs, so num_frames '
                f'must be a positive even number, got num_frames={num_frames}')
        if len(grid_size) != 2:
            raise ValueError(f'grid_size must be (h, w), got {grid_size}')
        self.embed_dims = int(embed_dims)
        self.num_frames = int(num_frames)
        self.grid_size = (int(grid_size[0]), int(grid_size[1]))

    @property
    def num_tokens(self) -> int:
        """Tokens per frame, ``1 + h*w``."""
        return 1 + self.grid_size[0] * self.grid_size[1]

    def _check(self, x: Tensor, num_frames: Optional[int]) -> int:
        """Validate ``x`` of shape (B*T, 1+h*w, C); return the batch size B."""
        if num_frames is None:
            num_frames = self.num_frames
        if num_frames != self.num_frames:
            raise ValueError(
                f'{type(self).__name__} was built for num_frames='
                f'{self.num_frames}, but forward got num_frames={num_frames}')
        if x.dim() != 3:
            raise ValueError('expected tokens of shape (B*T, 1+h*w, C), got '
                             f'{tuple(x.shape)}')
        rows, tokens, dims = x.shape
        if rows % num_frames:
            raise ValueError(f'{rows} rows of tokens are not divisible by '
                             f'num_frames={num_frames}')
        if tokens != self.num_tokens or dims != self.embed_dims:
            raise ValueError(
                f'expected (B*T, {self.num_tokens}, {self.embed_dims}) tokens '
                f'for grid {self.grid_size}, got {tuple(x.shape)}')
        return rows // num_frames

    def reset_parameters(self) -> None:
        """The layer's own initialisation: a fresh layer averages each pair."""
        raise NotImplementedError

    def init_weights(self) -> None:
        """Run MMEngine's init (``init_cfg`` may overwrite every Linear or
        Conv), then restore the layer's own start. A parent's ``init_cfg``
        reaches this layer without calling this method when the layer sits
        in a plain ``nn.ModuleDict``; the backbones therefore also call
        :meth:`reset_parameters` themselves after their own init. Loading a
        checkpoint happens after this and is not affected."""
        super().init_weights()
        self.reset_parameters()

    def _fuse(self, x: Tensor, weights: Tensor) -> Tensor:
        """``z = a * x_2j + b * x_2j+1``.

        Args:
            x (Tensor): (B*T, N+1, C) tokens.
            weights (Tensor): (B*T/2, N+1, 2) pair weights ``(a, b)``
                (anything broadcastable to it also works).

        Returns:
            Tensor: (B*T/2, N+1, C).
        """
        rows, tokens, dims = x.shape
        pairs = x.reshape(rows // 2, 2, tokens, dims)
        return (weights[..., 0:1] * pairs[:, 0] +
                weights[..., 1:2] * pairs[:, 1])

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_frames={self.num_frames}, '
                f'grid_size={self.grid_size}')


@MODELS.register_module()
class InTI(_PairMerge):
    """Dynamic inter-frame token interpolation (paper Sec. 3.2-3.3, app. B).

    For every token position k and frame pair j::

        X      = X + sigma * P                                     (Eq. 8)
        F_tok  = [T_{C->C/2}(E^k_2j), T_{C->C/2}(E^k_2j+1)]        (Eq. 9)
        F_ctx  = F_cube + F_frame + F_global                       (Eq. 13)
        (a, b) = softmax(FFN([F_tok, F_ctx]))                      (Eq. 13)
        Z^k_j  = a * E^k_2j + b * E^k_2j+1                         (Eq. 7)

    Args:
        embed_dims (int): Token width C.
        num_frames (int): Frame count T the layer receives (even).
        grid_size (tuple[int, int]): Patch grid ``(h, w)``.
        ffn_ratio (float): Hidden width of the FFN as a multiple of C
            (hidden = int(C * ffn_ratio)). The paper says only "two linear
            layers (FFN)" and its tables do not agree on one width. Default
            3.5: the one width that reproduces a whole table (Table 1's
            plain column, both model sizes). Which width fits which table,
            with the counts: docs/en/user_guides/configs.md, "Readings of the
            paper's open choices".
        use_cube (bool): Cube-level context (Tab. 5a ablation).
        use_frame (bool): Frame-level context (Tab. 5a ablation).
        use_global (bool): Global-level context (Tab. 5a ablation). With all
            three off, the FFN reads F_token alone (Tab. 5a, first row).
        init_cfg (dict, optional): MMEngine init config. :meth:`init_weights`
            re-applies the method's own initialisation afterwards
            (:meth:`reset_parameters`), and the backbones call
            :meth:`reset_parameters` after a parent's init too.

    Shapes: ``forward((B*T, 1+h*w, C), T) -> (B*T/2, 1+h*w, C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_frames: int,
                 grid_size: Tuple[int, int],
                 init_cfg: Optional[dict] = None,
                 ffn_ratio: float = 3.5,
                 use_cube: bool = True,
                 use_frame: bool = True,
                 use_global: bool = True):
        super().__init__(embed_dims, num_frames, grid_size, init_cfg)
        dims = self.embed_dims
        if dims % 2:
            raise ValueError(f'InTI needs an even embed_dims, got {dims}')
        self.use_cube = use_cube
        self.use_frame = use_frame
        self.use_global = use_global

        # Eq. 8: P is a learnable (T, 1, C) embedding (stored as (T, C)), added
        # to every token of frame t, CLS included, scaled by sigma (init 0, so
        # the layer starts without it). P itself must not start at zero too,
        # or neither sigma nor P would ever get a gradient.
        self.sigma = nn.Parameter(torch.zeros(()))
        self.temporal_embedding = nn.Parameter(torch.zeros(num_frames, dims))

        # Eq. 9: one T_{C->C/2} applied to both tokens of the pair (the paper
        # writes the same symbol for both).
        self.token_proj = _ln_linear_gelu(dims, dims // 2)

        # Eq. 10: depth-wise 3D conv, kernel 3, on the (T, h, w) token volume.
        self.cube_conv = (
            nn.Conv3d(dims, dims, 3, padding=1, groups=dims)
            if use_cube else None)

        # Eq. 11. Decision: the frame branch has its own T_{C->C/2} rather
        # than reusing the token one (the paper does not say they are shared).
        if use_frame:
            self.frame_proj = _ln_linear_gelu(dims, dims // 2)
            self.frame_fuse = _ln_linear_gelu(dims, dims)
        else:
            self.frame_proj = self.frame_fuse = None

        # Eq. 12 / appendix B: over the CLS tokens of all frames, two rounds of
        # (depth-wise conv1d k3 s1 -> max-pool /2 -> GELU), then a depth-wise
        # conv1d k3 s1, a global average over time and a GELU.
        # Decision: ceil_mode pooling so short clips (T=2 or an odd length
        # after the first pooling) still pool to one step instead of failing.
        if use_global:
            self.global_convs = nn.ModuleList(
                nn.Conv1d(dims, dims, 3, padding=1, groups=dims)
                for _ in range(3))
            self.global_pool = nn.MaxPool1d(2, ceil_mode=True)
        else:
            self.global_convs = None

        # Eq. 13, "Sep F_token": FFN([F_token (C), F_context (C)]) -> 2 logits.
        has_context = use_cube or use_frame or use_global
        ffn_in = 2 * dims if has_context else dims
        hidden = int(dims * ffn_ratio)
        if hidden < 1:
            raise ValueError(f'ffn_ratio={ffn_ratio} gives an empty FFN')
        self.ffn = nn.Sequential(
            nn.Linear(ffn_in, hidden), nn.GELU(), nn.Linear(hidden, 2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The method's own initialisation.

        Decision: the paper gives no init for the predictor. The last FFN
        layer is zeroed so that every token starts with weights (0.5, 0.5):
        a fresh layer equals averaging the pair, which keeps the image
        model's feature distribution (the paper's stated reason for sigma = 0
        at init) and starts training from the LinearPooling solution. The
        gradient still reaches that last layer (its input is non-zero), so the
        predictor leaves the average as soon as it learns.
        """
        nn.init.zeros_(self.sigma)
        nn.init.trunc_normal_(self.temporal_embedding, std=0.02)
        nn.init.zeros_(self.ffn[-1].weight)
        nn.init.zeros_(self.ffn[-1].bias)

    def add_temporal_embedding(self, x: Tensor, num_frames: int) -> Tensor:
        """Eq. 8, ``X + sigma * P``: (B*T, N+1, C) -> (B*T, N+1, C)."""
        rows, tokens, dims = x.shape
        pos = (self.sigma * self.temporal_embedding).to(x.dtype)
        x = x.reshape(rows // num_frames, num_frames, tokens, dims)
        return (x + pos[None, :, None, :]).reshape(rows, tokens, dims)

    def _cube(self, x: Tensor) -> Tensor:
        """Cube-level context (Eq. 10).

        Args:
            x (Tensor): (B, T, N+1, C).

        Returns:
            Tensor: (B, T/2, N+1, C).

        Decision (where the paper says only "DWConv(X)"): the conv runs with
        stride 1 over all T frames and its two outputs of a pair are averaged,
        so the context of pair j is centred on the pair (frames 2j-1 .. 2j+2).
        A CLS token has no spatial neighbours: it goes through the same kernel
        as a 1x1 image with zero padding, i.e. through the kernel's spatial
        centre, which is a depth-wise temporal conv k3 over the CLS tokens.
        So CLS context is built from CLS tokens only and patch context from
        patch tokens only.
        """
        batch, frames, tokens, dims = x.shape
        h, w = self.grid_size
        vol = x.permute(0, 3, 1, 2)  # (B, C, T, N+1)
        patches = self.cube_conv(vol[..., 1:].reshape(batch, dims, frames, h,
                                                      w))
        cls = F.conv3d(
            vol[..., :1].unsqueeze(-1),
            self.cube_conv.weight,
            self.cube_conv.bias,
            padding=1,
            groups=dims)
        out = torch.cat([cls.flatten(3), patches.flatten(3)], dim=3)
        out = out.reshape(batch, dims, frames // 2, 2, tokens).mean(3)
        return out.permute(0, 2, 3, 1)

    def _frame(self, cls: Tensor) -> Tensor:
        """Frame-level context (Eq. 11): (B, T, C) CLS tokens -> (B, T/2,
        C)."""
        batch, frames, dims = cls.shape
        # (B, T, C/2) -> (B, T/2, C) is exactly [f(CLS_2j), f(CLS_2j+1)].
        pairs = self.frame_proj(cls).reshape(batch, frames // 2, dims)
        return self.frame_fuse(pairs)

    def _global(self, cls: Tensor) -> Tensor:
        """Global-level context (Eq. 12, appendix B): (B, T, C) -> (B, C)."""
        y = cls.transpose(1, 2)  # (B, C, T)
        for conv in self.global_convs[:2]:
            y = F.gelu(self.global_pool(conv(y)))
        return F.gelu(self.global_convs[2](y).mean(-1))

    def pair_weights(self, x: Tensor, num_frames: int) -> Tensor:
        """Predict the interpolation weights ``(a, b)`` of every token pair.

        This is the hook to force weights in tests (monkeypatch it).

        Args:
            x (Tensor): (B*T, N+1, C) tokens, temporal embedding already added.
            num_frames (int): T.

        Returns:
            Tensor: (B*T/2, N+1, 2), softmax over the last axis (a + b = 1).
        """
        rows, tokens, dims = x.shape
        batch = rows // num_frames
        vol = x.reshape(batch, num_frames, tokens, dims)
        # F_token: (B, T, N+1, C/2) -> pairs -> (B, T/2, N+1, C).
        feat = self.token_proj(vol).reshape(batch, num_frames // 2, 2, tokens,
                                            dims // 2)
        feat = torch.cat([feat[:, :, 0], feat[:, :, 1]], dim=-1)

        cls = vol[:, :, 0]  # (B, T, C)
        context = None
        if self.use_cube:
            context = self._cube(vol)
        if self.use_frame:
            frame = self._frame(cls)[:, :, None, :]  # shared by all tokens
            context = frame if context is None else context + frame
        if self.use_global:
            glob = self._global(cls)[:, None, None, :]  # shared by all
            context = glob if context is None else context + glob
        if context is not None:
            feat = torch.cat([feat, context.expand_as(feat)], dim=-1)

        logits = self.ffn(feat)  # (B, T/2, N+1, 2)
        return logits.softmax(dim=-1).reshape(rows // 2, tokens, 2)

    def forward(self, x: Tensor, num_frames: Optional[int] = None) -> Tensor:
        """Merge frames (2j, 2j+1).

        Args:
            x (Tensor): (B*T, 1+h*w, C), rows ``b*T + t``, CLS at index 0.
            num_frames (int): T; must equal the constructed ``num_frames``
                (None means that value).

        Returns:
            Tensor: (B*T/2, 1+h*w, C). The paper adds the temporal embedding
            "before weight prediction and token fusion" (Eq. 8 replaces X), so
            the fused tokens are those with ``sigma * P`` added.
        """
        self._check(x, num_frames)
        x = self.add_temporal_embedding(x, self.num_frames)
        weights = self.pair_weights(x, self.num_frames)
        return self._fuse(x, weights.to(x.dtype))

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', use_cube={self.use_cube}, '
                f'use_frame={self.use_frame}, use_global={self.use_global}')


@MODELS.register_module()
class LinearPooling(_PairMerge):
    """Paper baseline: learned fixed pair weights, ``softmax`` of two logits
    shared by all tokens, frames and samples. The logits start at zero, so a
    fresh layer averages each pair.

    Args:
        embed_dims, num_frames, grid_size, init_cfg: As :class:`InTI`.

    Shapes: ``forward((B*T, 1+h*w, C), T) -> (B*T/2, 1+h*w, C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_frames: int,
                 grid_size: Tuple[int, int],
                 init_cfg: Optional[dict] = None):
        super().__init__(embed_dims, num_frames, grid_size, init_cfg)
        self.logits = nn.Parameter(torch.zeros(2))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.logits)

    def pair_weights(self, x: Tensor, num_frames: int) -> Tensor:
        """Same hook as :meth:`InTI.pair_weights`: returns (B*T/2, N+1, 2)."""
        rows, tokens, _ = x.shape
        return self.logits.softmax(0).expand(rows // 2, tokens, 2)

    def forward(self, x: Tensor, num_frames: Optional[int] = None) -> Tensor:
        self._check(x, num_frames)
        return self._fuse(x, self.pair_weights(x, self.num_frames).to(x.dtype))


@MODELS.register_module()
class ConvPooling(_PairMerge):
    """Paper baseline: a strided 3D convolution over time replaces InTI.

    Full-channel ``Conv3d(C, C, kernel=(2, k, k), stride=(2, 1, 1))`` on the
    patch-token volume; the CLS tokens go through the same kernel as a 1x1
    image (zero padding, i.e. its spatial centre). The paper says only "a set
    of stride 3D convolutions"; ``spatial_kernel=1`` (default) is the plain
    temporal downsampling, ``spatial_kernel=3`` a UniFormer-style cube.

    Initialised to the mean of the pair (weight 0.5 on the identity at the
    spatial centre, zero elsewhere, zero bias), so a fresh layer equals
    averaging and starts from the image model's feature space.

    Args:
        embed_dims, num_frames, grid_size, init_cfg: As :class:`InTI`.
        spatial_kernel (int): Odd spatial kernel size k.

    Shapes: ``forward((B*T, 1+h*w, C), T) -> (B*T/2, 1+h*w, C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_frames: int,
                 grid_size: Tuple[int, int],
                 init_cfg: Optional[dict] = None,
                 spatial_kernel: int = 1):
        super().__init__(embed_dims, num_frames, grid_size, init_cfg)
        if spatial_kernel < 1 or spatial_kernel % 2 == 0:
            raise ValueError(
                f'spatial_kernel must be odd, got {spatial_kernel}')
        pad = spatial_kernel // 2
        self.conv = nn.Conv3d(
            self.embed_dims,
            self.embed_dims, (2, spatial_kernel, spatial_kernel),
            stride=(2, 1, 1),
            padding=(0, pad, pad))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Mean of the pair:
        ``W[o, i, t, u, v] = 0.5 [o == i] [u, v centre]``."""
        weight = self.conv.weight
        centre = weight.shape[-1] // 2
        with torch.no_grad():
            weight.zero_()
            eye = torch.eye(
                self.embed_dims, dtype=weight.dtype, device=weight.device)
            weight[:, :, :, centre, centre] = 0.5 * eye[:, :, None]
            self.conv.bias.zero_()

    def forward(self, x: Tensor, num_frames: Optional[int] = None) -> Tensor:
        batch = self._check(x, num_frames)
        frames, (h, w) = self.num_frames, self.grid_size
        _, tokens, dims = x.shape
        vol = x.reshape(batch, frames, tokens, dims).permute(0, 3, 1, 2)
        patches = self.conv(vol[..., 1:].reshape(batch, dims, frames, h, w))
        # CLS as a 1x1 image: with odd k and padding k//2 it stays one token.
        cls = F.conv3d(
            vol[..., :1].unsqueeze(-1),
            self.conv.weight,
            self.conv.bias,
            stride=self.conv.stride,
            padding=self.conv.padding)
        out = torch.cat([cls.flatten(3), patches.flatten(3)], dim=3)
        # (B, C, T/2, N+1) -> (B*T/2, N+1, C)
        return out.permute(0, 2, 3, 1).reshape(batch * frames // 2, tokens,
                                               dims)
