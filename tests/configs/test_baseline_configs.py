"""The baseline configs of ZeroI2V Tables 3 / 4 (configs/recognition/<method>/,
K400 and synthetic): each says what it is (method, merge hook, frozen or
not, learning rate, STDHA) relative to the ZeroI2V config it is compared
with."""
import glob
import math
import os.path as osp

import pytest
from mmengine.config import Config

from helpers import REPO

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')

BASELINES = ('aim', 'st_adapter', 'lora', 'gelu_adapter', 'full_finetune',
             'linear_probe', 'temporal_heads')


@pytest.mark.parametrize('name', BASELINES)
@pytest.mark.parametrize('suffix', ['k400', 'synthetic'])
def test_baseline_configs_say_what_they_are(name, suffix):
    tail = {
        'k400': 'clip-vit-base-p16_8x16x1-40e_kinetics400',
        'synthetic': 'synthetic-vit-tiny-p16_8x2x1-20e_synthetic'
    }[suffix]
    found = glob.glob(
        osp.join(REPO, 'configs', 'recognition', name, f'*_{tail}-rgb.py'))
    assert len(found) == 1, (name, suffix, found)
    path = found[0]
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    peft = (backbone.get('peft') or {}).get('type')
    merges = peft in ('LoRA', 'TemporalHeads')
    assert ('MergeAdaptersHook' in hooks) == merges, hooks
    if peft is not None or name in ('full_finetune', 'linear_probe'):
        assert backbone.adapters is None
    # the ZeroI2V config the baseline is compared with (its _base_)
    base = Config.fromfile(
        osp.join(
            REPO, 'configs', {
                'k400': 'recognition/zeroi2v/'
                'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
                'synthetic': 'demo/zeroi2v_synthetic.py'
            }[suffix]))
    base_lr = base.optim_wrapper.optimizer.lr
    if name == 'full_finetune':
        assert backbone.freeze_pretrained is False
        assert math.isclose(cfg.optim_wrapper.optimizer.lr, base_lr / 10)
        assert backbone.stdha is not None
    else:
        assert backbone.freeze_pretrained is True
        assert math.isclose(cfg.optim_wrapper.optimizer.lr, base_lr)
    if name == 'linear_probe':
        assert backbone.stdha is None
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        assert keys['temporal_embedding']['lr_mult'] == 0
        assert keys['ln_post']['lr_mult'] == 0
    if name in ('aim', 'st_adapter'):
        assert backbone.stdha is None  # their own temporal modules
    if name in ('lora', 'gelu_adapter', 'temporal_heads'):
        assert backbone.stdha is not None  # as ZeroI2V (Table 3)
