"""Safe by default (issue 15), files: atomic writes keep the plain-write mode
and symlinks, leave special files alone, clean up after a crash, keep the
previous JSON or checkpoint when a write fails; the merge
tool never destroys its input and writes both outputs or neither; the work
dir lock detects stale locks."""
import errno
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from zeroi2v_mm.utils import io as atomic_io
from zeroi2v_mm.utils.io import atomic_save_checkpoint, atomic_write_json
from zeroi2v_mm.utils.lock import WorkDirLock, WorkDirLockedError

from helpers import REPO, TINY_DEMO_ARCH, VENV_BIN, load_tool, sha256_of

CONFIG = 'configs/demo/zeroi2v_synthetic.py'
TINY = TINY_DEMO_ARCH + [
    'model.cls_head.in_channels=64', 'model.backbone.pretrained=None'
]

sha = sha256_of


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_file_gets_the_umask_mode_and_replaced_file_keeps_its_mode(
        tmp_path, umask022):
    new = tmp_path / 'new.pth'
    atomic_io.atomic_save_checkpoint({'w': torch.ones(1)}, str(new))
    assert os.stat(new).st_mode & 0o777 == 0o644
    os.umask(0o077)
    atomic_io.atomic_write_json({'a': 1}, str(tmp_path / 'private.json'))
    assert os.stat(tmp_path / 'private.json').st_mode & 0o777 == 0o600
    shared = tmp_path / 'shared.json'
    shared.write_text('{}')
    os.chmod(shared, 0o664)
    atomic_io.atomic_write_json({'a': 2}, str(shared))
    assert os.stat(shared).st_mode & 0o777 == 0o664  # as a plain write
    assert json.loads(shared.read_text()) == {'a': 2}


def test_symlinked_destination_keeps_its_link(tmp_path, umask022):
    real_dir = tmp_path / 'storage'
    real_dir.mkdir()
    (real_dir / 'epoch_1.pth').write_bytes(b'old')
    link = tmp_path / 'epoch_1.pth'
    link.symlink_to(real_dir / 'epoch_1.pth')
    atomic_io.atomic_save_checkpoint({'w': torch.ones(1)}, str(link))
    assert link.is_symlink()
    assert torch.load(real_dir / 'epoch_1.pth')['w'].item() == 1
    assert sorted(os.listdir(real_dir)) == ['epoch_1.pth']  # no temp left


def test_special_files_are_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / 'pipe'
    os.mkfifo(fifo)
    reader = subprocess.Popen(['cat', str(fifo)], stdout=subprocess.PIPE)
    atomic_io.atomic_write_json({'a': 1}, str(fifo))
    assert json.loads(reader.communicate(timeout=30)[0]) == {'a': 1}
    assert osp.exists(fifo) and not osp.isfile(fifo)  # still a FIFO


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, '-c', 'import os; '
         'print(os.getpid())'],
        capture_output=True,
        text=True).stdout.strip()
    stale = tmp_path / f'.epoch_3.pth.{dead}.abcd1234.tmp'
    live = tmp_path / f'.epoch_4.pth.{os.getpid()}.abcd1234.tmp'
    other = tmp_path / '.someone_elses.tmp'
    for path in (stale, live, other):
        path.write_bytes(b'x')
    removed = atomic_io.remove_stale_temporaries(str(tmp_path))
    assert removed == [str(stale)]
    assert live.exists() and other.exists()


def test_write_all_or_nothing_restores_on_a_failed_rename(
        tmp_path, monkeypatch):
    first, second = tmp_path / 'a.pth', tmp_path / 'a.json'
    first.write_bytes(b'old a')
    second.write_bytes(b'old json')
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if dst == str(second) and len(calls) == 2:
            raise OSError(errno.EIO, 'injected')
        return real_replace(src, dst)

    monkeypatch.setattr(atomic_io.os, 'replace', failing_replace)

    def writer(text):

        def write(path):
            with open(path, 'w') as file:
                file.write(text)

        return write

    with pytest.raises(OSError, match='injected'):
        atomic_io.atomic_write_all([(str(first), writer('new a')),
                                    (str(second), writer('new json'))])
    assert first.read_bytes() == b'old a'
    assert second.read_bytes() == b'old json'
    assert sorted(os.listdir(tmp_path)) == ['a.json', 'a.pth']


def test_mmengine_writes_are_atomic_only_with_the_opt_in_backend(
        tmp_path, monkeypatch, umask022):
    from mmengine.runner.checkpoint import save_checkpoint
    calls = []
    original = atomic_io.atomic_write

    def spy(path, write):
        calls.append(path)
        return original(path, write)

    from zeroi2v_mm.utils import file_backend
    monkeypatch.setattr(file_backend, 'atomic_write', spy)
    plain = str(tmp_path / 'plain.pth')
    save_checkpoint({'state_dict': {'w': torch.ones(1)}}, plain)
    assert calls == []  # MMEngine's LocalBackend, untouched
    atomic = str(tmp_path / 'atomic.pth')
    save_checkpoint({'state_dict': {
        'w': torch.ones(1)
    }},
                    atomic,
                    backend_args=dict(backend='zeroi2v_atomic'))
    assert calls == [atomic]
    assert os.stat(atomic).st_mode & 0o777 == 0o644
    assert torch.load(atomic)['state_dict']['w'].item() == 1


# ---------------------------------------------------------------- lock
def test_lock_is_exclusive_and_stale_locks_are_replaced(tmp_path):
    with WorkDirLock(str(tmp_path)) as lock:
        facts = json.loads(open(lock.path).read())
        assert facts['pid'] == os.getpid()
        with pytest.raises(
                WorkDirLockedError,
                match=rf'pid {os.getpid()} on '
                rf'host {socket.gethostname()}.*This run: pid'):
            WorkDirLock(str(tmp_path)).acquire()
    assert not osp.exists(lock.path)
    dead = int(
        subprocess.run(
            [sys.executable, '-c', 'import os; '
             'print(os.getpid())'],
            capture_output=True,
            text=True).stdout)
    with open(lock.path, 'w') as file:
        json.dump(dict(pid=dead, host=socket.gethostname()), file)
    with WorkDirLock(str(tmp_path)):  # stale: its process is gone
        pass
    with open(lock.path, 'w') as file:
        json.dump(dict(pid=dead, host='another-host'), file)
    with pytest.raises(
            WorkDirLockedError, match='another-host.*another '
            'host'):
        WorkDirLock(str(tmp_path)).acquire()


# ---------------------------------------------------------------- merge tool
@pytest.fixture(scope='module')
def unmerged(tmp_path_factory):
    """A tiny unmerged recognizer checkpoint of the demo config."""
    from mmengine.config import Config, DictAction

    from mmaction.registry import MODELS

    from helpers import randomize_adapters
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.merge_from_dict({
        k: DictAction._parse_iterable(v)
        for k, v in (o.split('=', 1) for o in TINY)
    })
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    randomize_adapters(model)
    folder = tmp_path_factory.mktemp('merge')
    path = str(folder / 'unmerged.pth')
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return path


def merge(argv, monkeypatch):
    """tools/merge_adapters.py main(), in this process."""
    monkeypatch.chdir(REPO)
    tool = load_tool('tools/merge_adapters.py')
    try:
        return tool.main(argv), ''
    except SystemExit as exit:
        return 1, str(exit.code)


def test_merge_refuses_json_out_that_would_be_its_own_report(
        unmerged, tmp_path, monkeypatch):
    out = tmp_path / 'merged.json'
    code, message = merge([
        CONFIG, unmerged, '--out',
        str(out), '--verify', '0', '--cfg-options', *TINY
    ], monkeypatch)
    assert code == 1
    assert f'--out {out}: its report path' in message
    assert 'would be the checkpoint itself' in message
    assert not out.exists()


def test_merge_force_never_overwrites_its_input_through_a_symlinked_folder(
        unmerged, tmp_path, monkeypatch):
    before = sha(unmerged)
    alias = tmp_path / 'alias'
    alias.symlink_to(osp.dirname(unmerged))
    out = alias / osp.basename(unmerged)
    code, message = merge([
        CONFIG, unmerged, '--out',
        str(out), '--force', '--verify', '0', '--cfg-options', *TINY
    ], monkeypatch)
    assert code == 1
    assert 'is the input checkpoint' in message and '--force never' in message
    assert sha(unmerged) == before
    # the report path reaching the input (input named *.json) is refused too
    report_input = tmp_path / 'ckpt.json'
    shutil.copy(unmerged, report_input)
    code, message = merge([
        CONFIG,
        str(report_input), '--out',
        str(tmp_path / 'ckpt.pth'), '--force', '--verify', '0',
        '--cfg-options', *TINY
    ], monkeypatch)
    assert code == 1 and 'the report' in message
    assert sha(report_input) == before


def test_merge_refuses_negative_tolerance(unmerged, tmp_path, monkeypatch):
    code, message = merge([
        CONFIG, unmerged, '--out',
        str(tmp_path / 'm.pth'), '--tolerance=-1e-4', '--cfg-options', *TINY
    ], monkeypatch)
    assert code == 1 and '--tolerance -0.0001: must be a number >= 0' in \
        message
    assert not os.listdir(tmp_path)


def _can_mount_tmpfs():
    probe = subprocess.run([
        'unshare', '-rm', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt'
    ],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which('unshare') is None or not _can_mount_tmpfs(),
    reason='needs unshare and a user namespace to mount a '
    'tiny tmpfs')
def test_merge_on_a_full_disk_writes_nothing_and_says_so(unmerged, tmp_path):
    """The real tool, writing into a 64 KiB tmpfs (a private mount in a user
    namespace): no half result, the previous outputs unchanged."""
    full = tmp_path / 'full'
    full.mkdir()
    script = (
        f'mount -t tmpfs -o size=64k tmpfs {full} && '
        f'printf old > {full}/merged.pth && printf old > {full}/merged.json '
        f'&& {osp.join(VENV_BIN, "python")} tools/merge_adapters.py {CONFIG} '
        f'{unmerged} --out {full}/merged.pth --force --verify 0 '
        f'--cfg-options {" ".join(TINY)}; echo "rc=$?"; '
        f'ls -A {full}; cat {full}/merged.pth {full}/merged.json')
    result = subprocess.run(['unshare', '-rm', 'sh', '-c', script],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=300,
                            env=dict(os.environ, PYTHONWARNINGS='ignore'))
    log = result.stdout + result.stderr
    assert 'rc=1' in log, log[-3000:]
    assert f'no space left on device while writing {full}/merged.pth' in log
    listing = result.stdout.split('rc=1', 1)[1].split()
    assert listing[:2] == ['merged.json', 'merged.pth']  # no temporaries
    assert result.stdout.rstrip().endswith('oldold')  # both unchanged


def test_only_rank_zero_of_a_job_takes_the_lock(monkeypatch):
    """torchrun, srun and MPI ranks: one lock per job, not one per process
    (a second process of the same job must not be refused)."""
    tool = load_tool('tools/train.py')
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        monkeypatch.delenv(name, raising=False)
    assert tool._is_rank_zero()
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        monkeypatch.setenv(name, '1')
        assert not tool._is_rank_zero(), name
        monkeypatch.setenv(name, '0')
        assert tool._is_rank_zero(), name
        monkeypatch.delenv(name)


def test_atomic_writes_leave_old_file_on_failure(tmp_path):
    path = str(tmp_path / 'report.json')
    atomic_write_json({'a': 1}, path)
    with pytest.raises(TypeError):
        atomic_write_json({'a': object()}, path)
    assert json.load(open(path)) == {'a': 1}

    class Unpicklable:

        def __reduce__(self):
            raise RuntimeError('cannot pickle')

    ckpt = str(tmp_path / 'model.pth')
    atomic_save_checkpoint({'state_dict': {}}, ckpt)
    with pytest.raises(RuntimeError, match='cannot pickle'):
        atomic_save_checkpoint({'x': Unpicklable()}, ckpt)
    assert torch.load(ckpt) == {'state_dict': {}}
    assert sorted(os.listdir(tmp_path)) == ['model.pth', 'report.json']
