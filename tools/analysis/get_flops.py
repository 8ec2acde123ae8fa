"""Parameters and GFLOPs per view of a config's model, by MMEngine's counter.

    python tools/analysis/get_flops.py CONFIG [--shape T H W] [--merged]
        [--cfg-options k=v ...]

GFLOPs are multiply-accumulates, fvcore convention (as in the papers), for one
view (a batch of one clip), from pixels to class logits; attention
(``scaled_dot_product_attention``) is counted. No weights are needed: the
model is built with ``pretrained=None``. ``--merged`` folds the adapters first
(the deployed model).
"""
import argparse
import json

from mmengine.config import Config, DictAction

from mmaction.registry import MODELS
from mmaction.utils import register_all_modules
from zeroi2v_mm.reparam import merge_adapters
from zeroi2v_mm.utils.cli import positive_int, run_tool
from zeroi2v_mm.utils.complexity import complexity


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument(
        '--shape',
        type=positive_int,
        nargs=3,
        metavar=('T', 'H', 'W'),
        help='view shape (default: from the backbone)')
    parser.add_argument(
        '--merged',
        action='store_true',
        help='fold the linear adapters before counting')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.backbone.pretrained = None
    model = MODELS.build(cfg.model).eval()
    if args.merged:
        merge_adapters(model)
    shape = (3, *args.shape) if args.shape else None
    report = complexity(model, shape)
    report['trainable_params'] = sum(p.numel() for p in model.parameters()
                                     if p.requires_grad)
    report['config'] = args.config
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    run_tool(main)
