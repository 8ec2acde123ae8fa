"""Classification head: temporal average of per-frame features, dropout, fc."""
from typing import Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import normal_init
from torch import Tensor

from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS

from ...utils.checkpoint import (CheckpointMismatchError, last_read_checkpoint,
                                 loading_for_resume)


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

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss_cls: Optional[dict] = None,
                 dropout_ratio: float = 0.5,
                 init_std: float = 0.01,
                 **kwargs):
        super().__init__(num_classes, in_channels, loss_cls
                         or dict(type='CrossEntropyLoss'), **kwargs)
        self.init_std = init_std
        self.dropout = (
            nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity())
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        normal_init(self.fc_cls, std=self.init_std, bias=0.0)
        # Initialised for training: a checkpoint's classifier of another
        # label set may now be skipped (see _load_from_state_dict).
        self._is_init = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Check the classifier a checkpoint brings before loading it.

        * Shapes differ (another number of classes or width): for a head
          initialised for training (``load_from`` in a training run, after
          ``init_weights``) the classifier is skipped with one warning, as
          MMAction2 users expect when fine-tuning K400 -> UCF101; otherwise
          (testing, ``init_recognizer``, merging, ``Runner.resume``) it is an
          error naming the keys and both shapes.
        * Missing, when a whole model is loaded into a head not initialised
          for training: an error (testing a random classifier).
        """
        keys = {
            prefix + name: param
            for name, param in self.fc_cls.named_parameters(prefix='fc_cls')
        }
        mismatched = [
            (key, tuple(state_dict[key].shape), tuple(param.shape))
            for key, param in keys.items() if key in state_dict and tuple(
                getattr(state_dict[key], 'shape', ())) != tuple(param.shape)
        ]
        shown = '; '.join(f'{key}: checkpoint {a} vs model {b}'
                          for key, a, b in mismatched)
        # Fine-tuning: initialised for training, and not resuming a run.
        fine_tuning = self.is_init and not loading_for_resume()
        if mismatched and fine_tuning:
            for key in keys:
                state_dict.pop(key, None)
            print_log(
                f'classifier not loaded from the checkpoint ({shown}): it has '
                'another number of classes; this head keeps its '
                f'initialisation for {self.num_classes} classes '
                '(fine-tuning on a new label set)',
                logger='current',
                level=30)
        source = last_read_checkpoint()
        source = f' (file last read: {source})' if source else ''
        if mismatched and not fine_tuning:
            raise CheckpointMismatchError(
                f'checkpoint{source} does not fit the model: classifier '
                f'{shown} (the '
                f'model has num_classes={self.num_classes}, '
                f'in_channels={self.in_channels}). Use the config the '
                'checkpoint was trained with')
        elif prefix and not fine_tuning and any(key not in state_dict
                                                for key in keys):
            raise CheckpointMismatchError(
                f'checkpoint{source} has no classifier ({", ".join(keys)} '
                'missing): '
                'testing it would use a random classifier. Use the '
                'checkpoint written by training this config')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def loss_by_feat(self, cls_scores: Tensor, data_samples, **kwargs):
        """MMAction2's loss, after checking the labels: one outside
        ``[0, num_classes)`` would otherwise surface as a bare
        "Target 9 is out of bounds" from the loss."""
        for sample in data_samples:
            label = sample.gt_label
            if label.dtype.is_floating_point or label.numel() != 1:
                continue  # soft or multi-hot labels
            value = int(label.item())
            if not 0 <= value < self.num_classes:
                raise ValueError(
                    f'label {value} is outside [0, {self.num_classes}) '
                    f'(model.cls_head.num_classes={self.num_classes}): the '
                    'annotations have more classes than the head. Set '
                    'num_classes to match, and num_classes on the dataset '
                    '(CheckedVideoDataset) to have the file and line named '
                    'when the data are loaded')
        return super().loss_by_feat(cls_scores, data_samples, **kwargs)

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        if x.dim() < 3 or x.shape[1] != self.in_channels:
            raise ValueError(f'ZeroI2VHead expects (N, {self.in_channels}, T, '
                             f'...) features, got {tuple(x.shape)}')
        x = x.flatten(2).mean(dim=2)  # average over time (and space)
        return self.fc_cls(self.dropout(x))
