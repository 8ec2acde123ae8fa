"""Each fix for the pinned OpenMMLab stack (zeroi2v_mm/compat.py) is needed
and works."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=120)


def test_mmaction_models_import_after_zeroi2v_mm():
    result = _run('import zeroi2v_mm, mmaction.models\n'
                  'from mmaction.registry import MODELS\n'
                  'assert MODELS.get("Recognizer3D") is not None\n'
                  'assert MODELS.get("ZeroI2VViT") is not None\n'
                  'from mmaction.models.localizers import DRN\n'
                  'try:\n    DRN()\nexcept ImportError as e:\n'
                  '    assert "wheel" in str(e)\n')
    assert result.returncode == 0, result.stderr[-2000:]


def test_drn_fix_is_needed_with_the_wheel():
    import mmaction
    drn_dir = osp.join(osp.dirname(mmaction.__file__), 'models', 'localizers',
                       'drn')
    if osp.isdir(drn_dir):
        pytest.skip('this mmaction2 install has drn/: fix not needed')
    result = _run('import mmaction.models')
    assert result.returncode != 0
    assert 'mmaction.models.localizers.drn' in result.stderr


def _mmengine_style_checkpoint(path):
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', 0.5)
    torch.save({'meta': {'epoch': 1, 'seed': np.int64(3)},
                'message_hub': hub.state_dict(),
                'state_dict': {'w': torch.ones(2)}}, path)


def test_mmengine_checkpoint_loads_despite_weights_only_default(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    _mmengine_style_checkpoint(path)
    with pytest.raises(Exception):
        torch.load(path)  # torch >= 2.6 default: weights_only=True refuses
    checkpoint = _load_checkpoint(path, map_location='cpu')
    assert torch.equal(checkpoint['state_dict']['w'], torch.ones(2))


def test_missing_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(path, map_location='cpu')


def test_mim_imports_with_pinned_setuptools():
    result = _run('import pkg_resources, mim.commands.list')
    assert result.returncode == 0, result.stderr[-2000:]
