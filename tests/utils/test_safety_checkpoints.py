"""Safe by default (issue 15), checkpoints: no code runs from a checkpoint,
a checkpoint must fit its config, resumes are exact, files keep their mode.

One tiny run is trained once (module fixture) and reused by every test; each
case goes through the entry point a user would use (tools/*.py, mim test, the
Python API) and checks the exit status, the message naming the file / key /
value, and that nothing was written (hashes before and after).
"""
import glob
import hashlib
import importlib.util
import os
import os.path as osp
import shutil
import sys

import pytest
import torch

from helpers import (REPO, VENV_BIN, make_tiny_videos, run_status,
                     tiny_demo_overrides)

CONFIG = 'configs/demo/zeroi2v_synthetic.py'


def run(args):
    """(exit status, stdout + stderr) of ``args`` from the repo root."""
    return run_status(*args, PYTHONWARNINGS='ignore')


def run_in_process(tool, argv, monkeypatch, capsys):
    """Call ``tools/<tool>.py``'s main() here, as its command line would
    (saves a Python start-up per case); return (exit status, messages)."""
    path = osp.join(REPO, 'tools', tool)
    spec = importlib.util.spec_from_file_location(
        'zeroi2v_tool_' + osp.splitext(tool)[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [path] + list(argv))
    message = ''
    try:
        code = module.main(list(argv)) if tool == 'merge_adapters.py' \
            else module.main()
        code = code or 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
        message = '' if isinstance(exit.code, int) else str(exit.code)
    captured = capsys.readouterr()
    return code, message + '\n' + captured.out + captured.err


def digest(folder):
    """{relative path: sha256} of every file under ``folder``."""
    out = {}
    for path in sorted(glob.glob(osp.join(folder, '**'), recursive=True)):
        if osp.isfile(path):
            with open(path, 'rb') as file:
                out[osp.relpath(path, folder)] = hashlib.sha256(
                    file.read()).hexdigest()
    return out


def python(tool):
    return [osp.join(VENV_BIN, 'python'), tool]


def train_options(data, work_dir, epochs=2, extra=()):
    options = tiny_demo_overrides(data, work_dir, epochs=epochs)
    options += [
        'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.checkpoint.save_best=None', 'train_cfg.val_interval=10',
        'custom_hooks=[]', *extra
    ]
    return options


class Evil:
    """A pickle that runs code on load: creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Tiny data and a 2-epoch tiny run (epoch_1.pth, epoch_2.pth), trained
    under umask 022 by tools/train.py."""
    root = tmp_path_factory.mktemp('safety')
    data = make_tiny_videos(root / 'data')
    work_dir = str(root / 'run')
    old = os.umask(0o022)
    try:
        code, log = run(
            python('tools/train.py') + [
                CONFIG, '--work-dir', work_dir, '--cfg-options',
                *train_options(data, work_dir)
            ])
    finally:
        os.umask(old)
    assert code == 0, log[-3000:]
    evil_marker = str(root / 'code_ran')
    evil = str(root / 'evil.pth')
    checkpoint = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), weights_only=False)
    checkpoint['meta']['note'] = Evil(evil_marker)
    torch.save(checkpoint, evil)
    return dict(
        root=root, data=data, work_dir=work_dir, evil=evil, marker=evil_marker)


@pytest.mark.slow
def test_checkpoints_get_the_umask_mode(trained):
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        mode = os.stat(osp.join(trained['work_dir'], name)).st_mode & 0o777
        assert mode == 0o644, (name, oct(mode))
    assert not glob.glob(osp.join(trained['work_dir'], '.*.tmp'))
    assert not osp.exists(osp.join(trained['work_dir'], '.zeroi2v_run.lock'))


# ------------------------------------------------ code in a checkpoint
@pytest.mark.slow
@pytest.mark.parametrize('entry', ['load_from', 'resume', 'merge'])
def test_crafted_checkpoint_is_refused(trained, tmp_path, entry, monkeypatch,
                                       capsys):
    evil, marker = trained['evil'], trained['marker']
    work_dir = str(tmp_path / 'work')
    if entry == 'load_from':
        tool, argv = 'train.py', [
            CONFIG, '--work-dir', work_dir, '--cfg-options', *train_options(
                trained['data'],
                work_dir,
                epochs=1,
                extra=[f'load_from={evil}'])
        ]
    elif entry == 'resume':
        tool, argv = 'train.py', [
            CONFIG, '--work-dir', work_dir, '--resume', evil, '--cfg-options',
            *train_options(trained['data'], work_dir)
        ]
    else:
        tool, argv = 'merge_adapters.py', [
            CONFIG, evil, '--out',
            str(tmp_path / 'merged.pth'), '--verify', '0', '--cfg-options',
            *tiny_demo_overrides(trained['data'], work_dir)
        ]
    before = digest(str(trained['root']))
    monkeypatch.chdir(REPO)
    code, log = run_in_process(tool, argv, monkeypatch, capsys)
    assert code != 0
    assert f'{evil}: refused to load' in log, log[-3000:]
    assert 'pickles io.open' in log
    assert 'ZEROI2V_TRUSTED_CHECKPOINTS' in log
    assert not osp.exists(marker), 'the pickle ran code'
    assert digest(str(trained['root'])) == before
    assert not glob.glob(str(tmp_path / 'merged*'))
    assert not glob.glob(osp.join(work_dir, '*.pth'))


@pytest.mark.slow
def test_crafted_pretrained_file_is_refused(trained, tmp_path):
    from zeroi2v_mm.models import ZeroI2VViT
    from zeroi2v_mm.utils import UnsafeCheckpointError

    from helpers import TINY_ARCH
    path = str(tmp_path / 'ViT-B-16.pth')
    torch.save(
        {
            'visual.conv1.weight': torch.zeros(1),
            'x': Evil(trained['marker'])
        }, path)
    model = ZeroI2VViT(arch=TINY_ARCH, num_frames=2, pretrained=path)
    with pytest.raises(
            UnsafeCheckpointError,
            match=r'ViT-B-16.pth: refused.*pickles io.open'):
        model.init_weights()
    assert not osp.exists(trained['marker'])


class GetattrEscape:
    """A pickle reaching past HistoryBuffer's statistics via getattr, the
    first step of getattr(...).__globals__ -> os.system chains."""

    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_allowed_only_for_history_buffer_statistics(tmp_path):
    from zeroi2v_mm.utils.checkpoint import load_checkpoint_file
    path = str(tmp_path / 'escape.pth')
    torch.save({'x': GetattrEscape()}, path)
    with pytest.raises(
            ValueError,
            match=r"escape.pth: refused.*getattr\(.*"
            r"HistoryBuffer'>, '__init__'\)"):
        load_checkpoint_file(path)


@pytest.mark.slow
def test_trusted_file_loads_in_full_only_when_listed(trained, monkeypatch,
                                                     tmp_path):
    from zeroi2v_mm.utils.checkpoint import load_checkpoint_file
    marker = str(tmp_path / 'ran')
    path = str(tmp_path / 'old_style.pth')
    torch.save({'state_dict': {}, 'meta': Evil(marker)}, path)
    monkeypatch.setenv('ZEROI2V_TRUSTED_CHECKPOINTS', str(tmp_path / 'other'))
    with pytest.raises(ValueError, match='refused'):
        load_checkpoint_file(path)
    assert not osp.exists(marker)
    monkeypatch.setenv('ZEROI2V_TRUSTED_CHECKPOINTS', path)
    load_checkpoint_file(path)
    assert osp.exists(marker)  # the user's explicit choice


@pytest.mark.slow
def test_truncated_checkpoint_is_named(trained, tmp_path, monkeypatch, capsys):
    broken = str(tmp_path / 'epoch_9.pth')
    with open(osp.join(trained['work_dir'], 'epoch_1.pth'), 'rb') as file:
        head = file.read(4000)
    with open(broken, 'wb') as file:
        file.write(head)
    monkeypatch.chdir(REPO)
    code, log = run_in_process('test.py', [
        CONFIG, broken, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options',
        *tiny_demo_overrides(trained['data'], str(tmp_path / 'w'))
    ], monkeypatch, capsys)
    assert code != 0
    assert f'{broken} is not a readable checkpoint (corrupt, truncated' in log


# ------------------------------------------------ checkpoint fits config
@pytest.mark.slow
def test_mim_test_refuses_a_checkpoint_of_another_config(trained, tmp_path):
    """MMAction2's own tools/test.py (mim test): the model refuses."""
    checkpoint = osp.join(trained['work_dir'], 'epoch_2.pth')
    work_dir = str(tmp_path / 'w')
    code, log = run([
        'mim', 'test', 'mmaction', CONFIG, '--checkpoint', checkpoint,
        '--work-dir', work_dir, '--cfg-options',
        *tiny_demo_overrides(trained['data'], work_dir),
        'model.backbone.num_frames=4'
    ])
    assert code != 0
    assert ('backbone.temporal_embedding: checkpoint (8, 64) vs model '
            '(4, 64)') in log, log[-3000:]
    assert 'acc/top1' not in log


def _recognizer_cfg(trained, **backbone):
    """The demo config with the tiny --cfg-options, parsed as MMEngine's
    command line parses them."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    options = {}
    for option in tiny_demo_overrides(trained['data'], 'unused'):
        key, value = option.split('=', 1)
        if key.startswith('model.'):
            options[key] = DictAction._parse_iterable(value)
    cfg.merge_from_dict(options)
    cfg.model.backbone.update(backbone)
    return cfg


@pytest.mark.slow
def test_init_recognizer_refuses_missing_and_mismatching_keys(
        trained, tmp_path):
    from mmaction.apis import init_recognizer
    checkpoint = torch.load(
        osp.join(trained['work_dir'], 'epoch_2.pth'), weights_only=False)
    state = checkpoint['state_dict']
    no_head = str(tmp_path / 'no_head.pth')
    torch.save(
        {
            'state_dict': {
                k: v
                for k, v in state.items() if not k.startswith('cls_head.')
            }
        }, no_head)
    with pytest.raises(ValueError, match=r'no_head.pth\) has no classifier'):
        init_recognizer(_recognizer_cfg(trained), no_head, device='cpu')
    with pytest.raises(
            ValueError,
            match=r'adapters.*checkpoint \(16, 64\) '
            r'vs model \(32, 64\)'):
        init_recognizer(
            _recognizer_cfg(
                trained,
                adapters=dict(
                    num_adapters=4, ratio=0.5, scale=1.0, dropout=0.0)),
            osp.join(trained['work_dir'], 'epoch_2.pth'),
            device='cpu')
    model = init_recognizer(
        _recognizer_cfg(trained),
        osp.join(trained['work_dir'], 'epoch_2.pth'),
        device='cpu')
    assert torch.equal(model.cls_head.fc_cls.weight,
                       state['cls_head.fc_cls.weight'])


@pytest.mark.slow
def test_load_from_for_training_skips_only_the_classifier(trained):
    """Fine-tuning on another label set keeps working (one warning); a
    backbone of another shape is refused. Same loader as load_from."""
    from mmengine.runner.checkpoint import load_checkpoint

    from mmaction.registry import MODELS
    path = osp.join(trained['work_dir'], 'epoch_2.pth')
    cfg = _recognizer_cfg(trained)
    cfg.model.cls_head.num_classes = 7
    model = MODELS.build(cfg.model)
    model.init_weights()  # what the runner does before load_from
    load_checkpoint(model, path, map_location='cpu')
    state = torch.load(path, weights_only=False)['state_dict']
    assert torch.equal(model.backbone.temporal_embedding,
                       state['backbone.temporal_embedding'])
    assert model.cls_head.fc_cls.weight.shape == (7, 64)
    cfg = _recognizer_cfg(trained, num_frames=4)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with pytest.raises(
            ValueError,
            match=r'backbone.temporal_embedding: '
            r'checkpoint \(8, 64\) vs model \(4, 64\)'):
        load_checkpoint(model, path, map_location='cpu')


# ------------------------------------------------ resume
@pytest.mark.slow
def test_resume_refuses_another_config(trained, tmp_path, monkeypatch, capsys):
    work_dir = str(tmp_path / 'w')
    checkpoint = osp.join(trained['work_dir'], 'epoch_1.pth')
    monkeypatch.chdir(REPO)
    code, log = run_in_process('train.py', [
        CONFIG, '--work-dir', work_dir, '--resume', checkpoint,
        '--cfg-options', *train_options(trained['data'], work_dir),
        'model.cls_head.num_classes=7'
    ], monkeypatch, capsys)
    assert code != 0
    assert f'cannot resume from {checkpoint}' in log, log[-3000:]
    assert 'cls_head.fc_cls.weight: checkpoint (10, 64) vs model (7, 64)' \
        in log
    assert not glob.glob(osp.join(work_dir, '*.pth'))


@pytest.mark.slow
def test_mim_train_resume_refuses_another_config(trained, tmp_path):
    """MMAction2's own train.py: the model sees it is loaded by
    Runner.resume and refuses the classifier instead of skipping it."""
    work_dir = str(tmp_path / 'w')
    checkpoint = osp.join(trained['work_dir'], 'epoch_1.pth')
    code, log = run([
        'mim', 'train', 'mmaction', CONFIG, '--work-dir', work_dir, '--resume',
        checkpoint, '--cfg-options', *train_options(trained['data'], work_dir),
        'model.cls_head.num_classes=7'
    ])
    assert code != 0
    assert (f'checkpoint (file last read: {checkpoint}) does not fit the '
            'model: classifier cls_head.fc_cls.weight: checkpoint (10, 64) '
            'vs model (7, 64)') in log, log[-3000:]
    assert not glob.glob(osp.join(work_dir, '*.pth'))


@pytest.mark.slow
def test_bad_last_checkpoint_falls_back_and_resumes_bit_exactly(
        trained, tmp_path):
    """last_checkpoint names a truncated epoch_2.pth: --resume says so,
    continues from epoch_1.pth (an MMEngine checkpoint with optimizer,
    message hub and numpy scalars, loaded safely) and ends with exactly the
    uninterrupted run's weights."""
    work_dir = str(tmp_path / 'w')
    os.makedirs(work_dir)
    shutil.copy(osp.join(trained['work_dir'], 'epoch_1.pth'), work_dir)
    with open(osp.join(trained['work_dir'], 'epoch_2.pth'), 'rb') as file:
        head = file.read(5000)
    broken = osp.join(work_dir, 'epoch_2.pth')
    with open(broken, 'wb') as file:
        file.write(head)
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as file:
        file.write(broken)
    code, log = run(
        python('tools/train.py') + [
            CONFIG, '--work-dir', work_dir, '--resume', '--cfg-options',
            *train_options(trained['data'], work_dir)
        ])
    assert code == 0, log[-3000:]
    assert (f'last_checkpoint points to {broken}, which is not usable' in log
            and 'resuming from the newest readable checkpoint instead: '
            f'{osp.join(work_dir, "epoch_1.pth")}' in log), log[-3000:]
    assert 'resumed epoch: 1' in log
    final = torch.load(broken, weights_only=False)['state_dict']
    reference = torch.load(
        osp.join(trained['work_dir'], 'epoch_2.pth'),
        weights_only=False)['state_dict']
    assert final.keys() == reference.keys()
    for key in reference:
        assert torch.equal(final[key], reference[key]), key


# ------------------------------------------------ work-dir lock
@pytest.mark.slow
def test_second_run_into_a_live_work_dir_is_refused(trained, tmp_path,
                                                    monkeypatch, capsys):
    import json
    import socket
    work_dir = tmp_path / 'w'
    work_dir.mkdir()
    lock = work_dir / '.zeroi2v_run.lock'
    lock.write_text(
        json.dumps(
            dict(
                pid=os.getpid(),
                host=socket.gethostname(),
                started='now',
                command='pytest')))
    before = digest(str(work_dir))
    monkeypatch.chdir(REPO)
    code, log = run_in_process('train.py', [
        CONFIG, '--work-dir',
        str(work_dir), '--cfg-options',
        *train_options(trained['data'], str(work_dir), epochs=1)
    ], monkeypatch, capsys)
    assert code != 0
    assert f'is in use by another run: pid {os.getpid()} on host ' \
        f'{socket.gethostname()}' in log, log[-2000:]
    assert 'This run: pid ' in log
    assert digest(str(work_dir)) == before
