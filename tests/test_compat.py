"""Each fix for the pinned OpenMMLab stack (zeroi2v_mm/compat.py) is needed,
works, switches off where it is not needed, and changes nothing for other
projects that import the package."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          timeout=120)


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
    drn_dir = osp.join(
        osp.dirname(mmaction.__file__), 'models', 'localizers', 'drn')
    if osp.isdir(drn_dir):
        pytest.skip('this mmaction2 install has drn/: fix not needed')
    result = _run('import mmaction.models')
    assert result.returncode != 0
    assert 'mmaction.models.localizers.drn' in result.stderr


def _mmengine_style_checkpoint(path):
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', 0.5)
    torch.save(
        {
            'meta': {
                'epoch': 1,
                'seed': np.int64(3)
            },
            'message_hub': hub.state_dict(),
            'state_dict': {
                'w': torch.ones(2)
            }
        }, path)


def test_safe_loader_reads_mmengine_checkpoints_only_within_its_scope(
        tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader

    from zeroi2v_mm import compat
    path = str(tmp_path / 'epoch_1.pth')
    _mmengine_style_checkpoint(path)
    previous = CheckpointLoader._schemes['']
    with compat.safe_checkpoint_loader():
        checkpoint = _load_checkpoint(path, map_location='cpu')
        assert CheckpointLoader._schemes[''] is compat.load_from_local_safe
    assert CheckpointLoader._schemes[''] is previous
    assert torch.equal(checkpoint['state_dict']['w'], torch.ones(2))
    assert checkpoint['meta']['seed'] == 3
    assert checkpoint['message_hub']['log_scalars']['train/loss'].mean() == 0.5


def test_missing_checkpoint_names_the_file(tmp_path):
    from zeroi2v_mm import compat
    path = str(tmp_path / 'nope.pth')
    with compat.safe_checkpoint_loader():
        with pytest.raises(FileNotFoundError, match='nope.pth'):
            _load_checkpoint(path, map_location='cpu')


# What MMEngine does for any project, observed before and after importing
# zeroi2v_mm in one fresh process; then after building a ZeroI2VViT (our run).
OBSERVE = r"""
import json, os, sys
import numpy as np, torch
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        save_checkpoint)
from mmengine.dist import utils as dist_utils
folder = sys.argv[1]
os.umask(0o022)

def observe(tag):
    hub = MessageHub.get_instance('observe-' + tag)
    hub.update_scalar('train/loss', 0.5)
    path = os.path.join(folder, tag + '.pth')
    save_checkpoint({'meta': {'seed': np.int64(3)},
                     'message_hub': hub.state_dict(),
                     'state_dict': {'w': torch.ones(2)}}, path)
    real = os.path.join(folder, tag + '_real.pth')
    open(real, 'wb').close()
    link = os.path.join(folder, tag + '_link.pth')
    os.symlink(real, link)
    save_checkpoint({'state_dict': {'w': torch.ones(1)}}, link)
    try:
        _load_checkpoint(path, map_location='cpu')
        loaded = 'ok'
    except Exception as error:
        loaded = type(error).__name__
    return dict(mode=oct(os.stat(path).st_mode & 0o777),
                link_kept=os.path.islink(link),
                target_written=os.path.getsize(real) > 0,
                load=loaded,
                loader=CheckpointLoader._schemes[''].__name__,
                put=LocalBackend.put.__qualname__,
                put_text=LocalBackend.put_text.__qualname__)

before = observe('before')
import zeroi2v_mm
after = observe('after')
from zeroi2v_mm.models import ZeroI2VViT
ZeroI2VViT(arch=dict(width=64, layers=1, heads=4, patch_size=8,
                     image_size=32), num_frames=2)
ours = observe('ours')
print(json.dumps(dict(before=before, after=after, ours=ours)))
"""


def test_importing_the_package_changes_nothing_for_mmengine(tmp_path):
    """Saves and loads through MMEngine with and without the import: same
    file mode (0644 under umask 022), same symlink handling, same loader and
    the same load result. Building one of our models (our run) switches on
    the safe loader, which then reads the MMEngine checkpoint."""
    import json
    result = subprocess.run([sys.executable, '-c', OBSERVE,
                             str(tmp_path)],
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen['before'] == seen['after'], seen
    assert seen['after']['mode'] == '0o644'
    assert seen['after']['link_kept'] and seen['after']['target_written']
    assert seen['after']['loader'] == 'load_from_local'
    assert seen['ours']['loader'] == 'load_from_local_safe'
    assert seen['ours']['load'] == 'ok'
    assert seen['ours']['mode'] == '0o644' and seen['ours']['link_kept']


def test_non_cuda_accelerators_take_mmengine_path(monkeypatch):
    from mmengine.device import utils as device_utils

    from zeroi2v_mm import compat
    calls = []
    monkeypatch.setattr(compat, '_init_dist_pytorch_original',
                        lambda *a, **k: calls.append(('mmengine', a)))
    monkeypatch.setattr(compat.torch_dist, 'init_process_group',
                        lambda **k: calls.append(('gloo', k)))
    monkeypatch.setattr(device_utils, 'is_cuda_available', lambda: False)
    for name in ('is_npu_available', 'is_mlu_available', 'is_musa_available'):
        monkeypatch.setattr(device_utils, name, lambda: False)
    compat.init_dist_pytorch_cpu_aware('nccl')
    assert calls == [('gloo', {'backend': 'gloo'})]
    for name in ('is_npu_available', 'is_mlu_available', 'is_musa_available'):
        calls.clear()
        monkeypatch.setattr(device_utils, name, lambda: True)
        compat.init_dist_pytorch_cpu_aware('nccl')
        assert calls == [('mmengine', ('nccl', 'torch'))], name
        monkeypatch.setattr(device_utils, name, lambda: False)


def test_cpu_distributed_fix_switches_off_when_mmengine_is_fixed(monkeypatch):
    from zeroi2v_mm import compat
    assert compat.cpu_distributed_fix_needed()  # mmengine 0.10.7

    def fixed_init(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available():  # a release that checks first
            pass

    monkeypatch.setattr(compat, '_init_dist_pytorch_original', fixed_init)
    assert not compat.cpu_distributed_fix_needed()
    assert compat.fix_cpu_distributed() is False


def test_drn_fix_switches_off_when_the_folder_exists(tmp_path, monkeypatch):
    import importlib.machinery

    from zeroi2v_mm import compat
    (tmp_path / 'mmaction' / 'models' / 'localizers' /
     'drn').mkdir(parents=True)
    spec = importlib.machinery.ModuleSpec('mmaction', None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path / 'mmaction')]
    monkeypatch.setattr(compat.importlib.util, 'find_spec', lambda name: spec)
    assert compat.fix_missing_drn_module() is False


def test_mim_imports_with_pinned_setuptools():
    result = _run('import pkg_resources, mim.commands.list')
    assert result.returncode == 0, result.stderr[-2000:]
