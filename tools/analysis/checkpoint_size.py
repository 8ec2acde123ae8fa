"""Size of a config's training checkpoint, full and small.

Small: as SmallCheckpointHook writes it.

Builds the config's model with random weights (no image-model file or data
needed: the random backbone is written to a temporary file and used as the
``pretrained`` file), builds its optimizer from the config and gives it the
state one training step leaves (AdamW: step, exp_avg, exp_avg_sq per
trained parameter), then serialises the checkpoint the runner would write
(meta with the config, state_dict, optimizer, message hub) twice: whole, and
through SmallCheckpointHook. The small one is then completed again from the
temporary file, as loading it does, to show it round-trips.

    python tools/analysis/checkpoint_size.py \
        configs/recognition/zeroi2v/zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py
"""
import argparse
import io
import os
import os.path as osp
import sys
import tempfile
from types import SimpleNamespace

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import weights_to_cpu


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides, as for tools/train.py')
    return parser.parse_args(argv)


def serialised_size(checkpoint: dict) -> int:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.tell()


def measure(config: str, cfg_options=None) -> dict:
    """``dict(full=, small=, small_without_optimizer=)`` in bytes,
    ``trained=, total=`` parameters."""
    import zeroi2v_mm  # noqa: F401  (registers the models and the hook)
    from mmaction.registry import MODELS
    from zeroi2v_mm.apis import init_model
    from zeroi2v_mm.engine import SmallCheckpointHook
    from zeroi2v_mm.utils.small_checkpoint import (make_small,
                                                   small_checkpoint_backbones)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    logger = MMLogger.get_instance('checkpoint_size', log_level='ERROR')
    with tempfile.TemporaryDirectory() as tmp:
        image_model = osp.join(tmp, 'random_image_model.pth')
        cfg.model.backbone.pretrained = image_model
        model = MODELS.build(cfg.model)
        backbones = small_checkpoint_backbones(model)
        if not backbones:
            raise SystemExit(f'{config}: no backbone that writes small '
                             'checkpoints')
        for _, backbone in backbones:
            torch.save(backbone.state_dict(), image_model)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        # The optimizer state of one step: gradients for what trains.
        trained = [p for p in model.parameters() if p.requires_grad]
        for param in trained:
            param.grad = torch.randn_like(param) * 1e-3
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        checkpoint = dict(
            meta=dict(cfg=cfg.pretty_text, epoch=1, iter=1, seed=0),
            state_dict=weights_to_cpu(model.state_dict()),
            message_hub=MessageHub.get_current_instance().state_dict(),
            optimizer=optim_wrapper.state_dict())
        full = serialised_size(checkpoint)
        hook = SmallCheckpointHook()
        entries = hook._check(SimpleNamespace(model=model, logger=logger))
        if not entries:
            raise SystemExit('SmallCheckpointHook would save full '
                             'checkpoints for this config')
        make_small(checkpoint, entries)
        small = serialised_size(checkpoint)
        optimizer = checkpoint.pop('optimizer')
        small_without_optimizer = serialised_size(checkpoint)
        checkpoint['optimizer'] = optimizer
        # Loaded as every tool loads it, it is the whole model again.
        small_path = osp.join(tmp, 'small.pth')
        torch.save(checkpoint, small_path)
        loaded = init_model(cfg, small_path, device='cpu').state_dict()
        whole = model.state_dict()
        assert loaded.keys() == whole.keys()
        assert all(torch.equal(loaded[k], v) for k, v in whole.items())
    return dict(
        full=full,
        small=small,
        small_without_optimizer=small_without_optimizer,
        trained=sum(p.numel() for p in trained),
        total=sum(p.numel() for p in model.parameters()))


def main(argv=None) -> int:
    args = parse_args(argv)
    from zeroi2v_mm.utils.cli import check_config_path
    check_config_path(args.config)
    torch.manual_seed(0)
    sizes = measure(args.config, args.cfg_options)
    print(f'{args.config}: {sizes["trained"] / 1e6:.2f}M of '
          f'{sizes["total"] / 1e6:.2f}M parameters train')
    print(f'full checkpoint (with optimizer state): '
          f'{sizes["full"] / 1e6:.1f} MB')
    print(f'small checkpoint (with optimizer state): '
          f'{sizes["small"] / 1e6:.1f} MB '
          f'({sizes["small"] / sizes["full"]:.3f} of full)')
    print(f'small checkpoint without optimizer state: '
          f'{sizes["small_without_optimizer"] / 1e6:.1f} MB')
    # AdamW keeps two fp32 moments per trained parameter: with them a
    # checkpoint cannot be smaller than 12 bytes per trained parameter.
    print(f'floor with AdamW state (3 x 4 bytes per trained parameter): '
          f'{sizes["trained"] * 12 / 1e6:.1f} MB')
    return 0


if __name__ == '__main__':
    sys.path.insert(
        0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    os.environ.setdefault('PYTHONWARNINGS', 'ignore')
    from zeroi2v_mm.utils.cli import run_tool
    run_tool(main)
