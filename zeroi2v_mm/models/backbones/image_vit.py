"""ZeroI2VImageViT: the image model that ZeroI2V starts from, for mmpretrain.

It is :class:`ZeroI2VViT` on single images: one frame, no STDHA, no adapters,
nothing frozen, and no temporal embedding. Trained with mmpretrain's
``ImageClassifier``, its checkpoint (``backbone.*`` keys) loads into the
video backbone through ``ZeroI2VViT(pretrained=...)``: every key exists
there with the same shape, and the video model keeps its own zero-initialised
``(T, C)`` temporal embedding, so at the start of video training every frame
gets exactly the image model's features.
"""
from typing import Optional, Tuple, Union

import torch
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from torch import Tensor, nn

from .zeroi2v_vit import ZeroI2VViT


@MMPRETRAIN_MODELS.register_module()
class ZeroI2VImageViT(ZeroI2VViT):
    """CLIP-style image ViT with the parameter names of :class:`ZeroI2VViT`.

    Registered in mmpretrain's ``MODELS`` (use it under
    ``default_scope='mmpretrain'``, e.g. in an ``ImageClassifier``).

    Args:
        arch (str | dict): As :class:`ZeroI2VViT`.
        pretrained (str, optional): Image weights to start from (CLIP,
            open_clip or a checkpoint of this backbone), as
            :class:`ZeroI2VViT`.
        drop_path_rate (float): Stochastic depth, rising over blocks.
        act (str): ``'quick_gelu'`` or ``'gelu'``.
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
                 act: str = 'quick_gelu',
                 output: str = 'cls',
                 with_cp: bool = False,
                 pos_embed_std: Optional[float] = None,
                 init_cfg: Optional[dict] = None):
        if pos_embed_std is not None and not pos_embed_std > 0:
            raise ValueError(f'pos_embed_std={pos_embed_std!r}: expected a '
                             'positive standard deviation or None')
        self.pos_embed_std = pos_embed_std
        super().__init__(arch=arch, num_frames=1, pretrained=pretrained,
                         drop_path_rate=drop_path_rate, stdha=None,
                         adapters=None, compress=None, act=act,
                         freeze_pretrained=False, output=output,
                         with_cp=with_cp, init_cfg=init_cfg)
        # An image model has no temporal embedding. A zero, non-persistent
        # buffer keeps the shared forward unchanged (adding zeros) while the
        # checkpoint holds no `temporal_embedding` that could collide with
        # the video model's (T, C) one, and nothing trains it.
        del self.temporal_embedding
        self.register_buffer('temporal_embedding',
                             torch.zeros(1, self.embed_dims),
                             persistent=False)

    def _init_random_weights(self) -> None:
        super()._init_random_weights()
        if self.pos_embed_std is not None:
            nn.init.normal_(self.positional_embedding, std=self.pos_embed_std)

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        """(N, 3, H, W) -> ``((N, C),)`` or ``((N, C, H/p, W/p),)``."""
        if x.dim() != 4:
            raise ValueError(f'ZeroI2VImageViT expects (N, 3, H, W) images, '
                             f'got shape {tuple(x.shape)}')
        out = super().forward(x.unsqueeze(2))  # one frame per image
        if self.output == 'cls':
            return (out.flatten(1), )  # (N, C, 1, 1, 1) -> (N, C)
        return (out.squeeze(2), )  # (N, C, 1, h, w) -> (N, C, h, w)
