"""TrainableParamsHook: log which parameters train when training starts."""
import re
from typing import Dict

import torch
from mmengine.hooks import Hook

from mmaction.registry import HOOKS


@HOOKS.register_module()
class TrainableParamsHook(Hook):
    """Log, when training starts, which parameters train: per module (block
    indices folded into ``*``, so the 12 blocks' adapters are one row), the
    number of tensors, parameters that train and that are frozen; then the
    totals.

    Registered by ``configs/_base_/default_runtime.py`` as
    ``default_hooks.trainable_params``; set it to None to switch it off.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        runner.logger.info('\n' + trainable_params_table(runner.model))


def trainable_params_table(model: torch.nn.Module) -> str:
    """A text table of trainable / frozen parameters per module."""
    model = getattr(model, 'module', model)  # DDP
    rows: Dict[str, list] = {}
    for name, param in model.named_parameters():
        # weight / bias: counted under their module; other tensors (e.g.
        # temporal_embedding) under their own name
        owner, _, leaf = name.rpartition('.')
        module = re.sub(
            r'\.\d+(?=\.|$)', '.*',
            owner if leaf in ('weight', 'bias') and owner else name)
        row = rows.setdefault(module, [0, 0, 0])
        row[0] += 1
        row[1 if param.requires_grad else 2] += param.numel()
    trainable = sum(row[1] for row in rows.values())
    total = trainable + sum(row[2] for row in rows.values())
    width = max([len(name) for name in rows] + [6])
    lines = [
        f'Trainable parameters per module ({trainable:,} of {total:,}, '
        f'{100 * trainable / max(total, 1):.2f}%):',
        f"{'module':<{width}}  {'tensors':>7}  {'trainable':>12}  "
        f"{'frozen':>12}"
    ]
    for name, (tensors, train, frozen) in rows.items():
        lines.append(f'{name:<{width}}  {tensors:>7}  {train:>12,}  '
                     f'{frozen:>12,}')
    lines.append(f"{'total':<{width}}  {sum(r[0] for r in rows.values()):>7}"
                 f'  {trainable:>12,}  {total - trainable:>12,}')
    return '\n'.join(lines)
