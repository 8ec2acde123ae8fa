"""Classification head: temporal average of per-frame features, dropout, fc."""
from typing import Optional

import torch.nn as nn
from mmengine.model.weight_init import normal_init
from torch import Tensor

from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS


@MODELS.register_module()
class ZeroI2VHead(BaseHead):
    """Average the backbone's frames (any number of them), dropout, linear.

    Args:
        num_classes (int): Classes.
        in_channels (int): Feature width C.
        loss_cls (dict): Loss config.
        dropout_ratio (float): Dropout before the classifier.
        init_std (float): Std of the classifier's normal init (bias zero).
        label_smooth_eps, average_clips, ...: see MMAction2's ``BaseHead``.

    Shapes: ``(N, C, T, H, W)`` or ``(N, C, T)`` -> ``(N, num_classes)``;
    T may be any length (compression layers shorten clips).
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss_cls: Optional[dict] = None, dropout_ratio: float = 0.5,
                 init_std: float = 0.01, **kwargs):
        super().__init__(num_classes, in_channels,
                         loss_cls or dict(type='CrossEntropyLoss'), **kwargs)
        self.init_std = init_std
        self.dropout = (nn.Dropout(dropout_ratio) if dropout_ratio > 0 else
                        nn.Identity())
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        normal_init(self.fc_cls, std=self.init_std, bias=0.0)

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        if x.dim() < 3 or x.shape[1] != self.in_channels:
            raise ValueError(f'ZeroI2VHead expects (N, {self.in_channels}, T, '
                             f'...) features, got {tuple(x.shape)}')
        x = x.flatten(2).mean(dim=2)  # average over time (and space)
        return self.fc_cls(self.dropout(x))
