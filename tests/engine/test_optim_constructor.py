"""TrainableParamsOptimWrapperConstructor (configs/_base_/schedules/): the
optimizer holds exactly the trainable parameters, in the parameter groups
(lr, weight decay) MMEngine's default constructor builds, and the log has no
warning per frozen parameter. (The training log of a real run is checked in
tests/tools/test_training_conventions.py.)"""
import logging
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmaction.registry import MODELS

from helpers import REPO, TINY_ARCH

FROZEN_WARNING = 'is skipped since its requires_grad=False'


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _tiny(config):
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.model.backbone.pretrained = None
    cfg.model.cls_head.in_channels = TINY_ARCH['width']
    init_default_scope('mmaction')
    return cfg, MODELS.build(cfg.model)


def _build(model, optim_cfg, constructor):
    """The optimizer wrapper and the messages logged while building it."""
    optim_cfg = optim_cfg.copy()
    optim_cfg.constructor = constructor
    optim_cfg.type = 'OptimWrapper'  # fp32 everywhere, as on this machine
    logger = MMLogger.get_current_instance()
    records = _Records()
    logger.addHandler(records)
    try:
        wrapper = build_optim_wrapper(model, optim_cfg)
    finally:
        logger.removeHandler(records)
    return wrapper, records.messages


def _groups(optimizer):
    """[(id(param), lr, weight_decay)] per parameter, in optimizer order."""
    return [(id(param), group['lr'], group['weight_decay'])
            for group in optimizer.param_groups for param in group['params']]


@pytest.mark.parametrize(
    'config',
    [
        # no decay on embeddings and norms
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
        # + backbone lr_mult=0.1
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-large-p14_8x16x1-40e_kinetics400-rgb.py',
    ])
def test_optimizer_holds_trainable_params_with_default_groups(config):
    cfg, model = _tiny(config)
    assert cfg.optim_wrapper.constructor == \
        'TrainableParamsOptimWrapperConstructor'  # from _base_
    ours, messages = _build(model, cfg.optim_wrapper,
                            'TrainableParamsOptimWrapperConstructor')
    default, default_messages = _build(model, cfg.optim_wrapper,
                                       'DefaultOptimWrapperConstructor')
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    frozen = [p for p in model.parameters() if not p.requires_grad]
    assert frozen and trainable  # a frozen CLIP ViT with trainable parts

    got = _groups(ours.optimizer)
    assert {pid for pid, _, _ in got} == trainable
    assert len(got) == len(trainable)  # each once
    # The default constructor's groups, frozen parameters filtered out.
    want = [g for g in _groups(default.optimizer) if g[0] in trainable]
    assert got == want
    lrs = {lr for _, lr, _ in got}
    decays = {wd for _, _, wd in got}
    base = cfg.optim_wrapper.optimizer
    assert 0.0 in decays and base.weight_decay in decays
    if 'vit-l14' in config:
        assert lrs == {base.lr, base.lr * 0.1}

    # One line instead of one warning per frozen tensor.
    assert not [m for m in messages if m.endswith(FROZEN_WARNING)]
    assert sum(m.endswith(FROZEN_WARNING)
               for m in default_messages) == len(frozen)
    summary = [m for m in messages if 'frozen' in m and 'left out' in m]
    assert len(summary) == 1
    assert f'{sum(p.numel() for p in frozen):,} frozen' in summary[0]


def test_without_paramwise_cfg_one_group_of_trainable_params():
    cfg, model = _tiny(
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    optim_cfg = cfg.optim_wrapper.copy()
    optim_cfg.pop('paramwise_cfg')
    ours, messages = _build(model, optim_cfg,
                            'TrainableParamsOptimWrapperConstructor')
    groups = ours.optimizer.param_groups
    assert len(groups) == 1
    assert [id(p) for p in groups[0]['params']
            ] == [id(p) for p in model.parameters() if p.requires_grad]
    assert groups[0]['lr'] == cfg.optim_wrapper.optimizer.lr
    assert not [m for m in messages if FROZEN_WARNING in m]


def test_the_filter_is_removed_and_other_warnings_pass():
    cfg, model = _tiny(
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    logger = MMLogger.get_current_instance()
    filters = list(logger.filters)
    _build(model, cfg.optim_wrapper, 'TrainableParamsOptimWrapperConstructor')
    assert logger.filters == filters  # nothing left on the logger
    records = _Records()
    logger.addHandler(records)
    try:
        logger.warning(f'x {FROZEN_WARNING}')  # after the build: logged
    finally:
        logger.removeHandler(records)
    assert records.messages == [f'x {FROZEN_WARNING}']


def test_a_model_with_nothing_to_train_is_refused():
    cfg, model = _tiny(
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    model.requires_grad_(False)
    with pytest.raises(ValueError, match='no parameter with requires_grad'):
        _build(model, cfg.optim_wrapper,
               'TrainableParamsOptimWrapperConstructor')
