"""Issue 26, part 1: one output discipline for every tool
(zeroi2v_mm.utils.io.check_output): an output is never one of the run's
inputs (through links), --force only replaces an unrelated existing file,
directories and unwritable places are refused by name, writes are atomic.
Each case runs the real entry point and checks the exit status, the
message and that no input changed."""
import os
import os.path as osp

import pytest
import torch

from zeroi2v_mm.utils.io import OutputPathError, check_output

from helpers import REPO, run_status, sha256_of

CONFIG = 'configs/demo/zeroi2v_synthetic.py'

sha = sha256_of


def run(*args):
    return run_status('python', *args)


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / 'm.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}}, path)
    return path


@pytest.mark.slow
def test_export_never_replaces_its_checkpoint_even_with_force(
        checkpoint, tmp_path):
    before = sha(checkpoint)
    link = tmp_path / 'link.onnx'
    link.symlink_to(checkpoint)
    for out in (checkpoint, link):
        code, text = run('tools/deployment/export_onnx.py', CONFIG, checkpoint,
                         '--out', out, '--format', 'onnx', '--force')
        assert code != 0
        assert 'is the input checkpoint' in text and '--force never' in text
        assert 'Traceback' not in text
        assert sha(checkpoint) == before
    # a directory is refused by name
    code, text = run('tools/deployment/export_onnx.py', CONFIG, checkpoint,
                     '--out', tmp_path, '--force')
    assert code != 0 and f'{tmp_path} is a directory' in text
    code, text = run('tools/deployment/export_onnx.py', CONFIG, checkpoint,
                     '--out', '')
    assert code != 0 and '--out: empty path' in text
    assert 'Traceback' not in text


@pytest.mark.slow
def test_test_dump_never_replaces_the_checkpoint_or_the_config(tmp_path):
    pickled = tmp_path / 'ck.pkl'
    torch.save({'state_dict': {}}, pickled)
    before = sha(pickled)
    code, text = run('tools/test.py', CONFIG, pickled, '--dump', pickled)
    assert code != 0 and 'is the input checkpoint' in text
    assert 'Traceback' not in text and sha(pickled) == before
    config_alias = tmp_path / 'config.pkl'
    config_alias.symlink_to(osp.join(REPO, CONFIG))
    config_hash = sha(osp.join(REPO, CONFIG))
    code, text = run('tools/test.py', CONFIG, pickled, '--dump', config_alias)
    assert code != 0 and 'is the config' in text
    assert sha(osp.join(REPO, CONFIG)) == config_hash
    code, text = run('tools/test.py', CONFIG, pickled, '--dump',
                     tmp_path / 'p.txt')
    assert code != 0 and 'must end with .pkl' in text
    assert 'Traceback' not in text


@pytest.mark.slow
def test_benchmark_reports_never_replace_a_config_or_checkpoint(
        checkpoint, tmp_path):
    config_alias = tmp_path / 'cfg.md'
    config_alias.symlink_to(osp.join(REPO, CONFIG))
    config_hash = sha(osp.join(REPO, CONFIG))
    code, text = run('tools/benchmark.py', CONFIG, '--device', 'cpu',
                     '--counts-only', '--md', config_alias)
    assert code != 0 and '--md' in text and 'is the config' in text
    assert sha(osp.join(REPO, CONFIG)) == config_hash
    before = sha(checkpoint)
    code, text = run('tools/deployment/benchmark_onnx.py', CONFIG,
                     '--checkpoint', checkpoint, '--json', checkpoint)
    assert code != 0 and 'is the input checkpoint' in text
    assert sha(checkpoint) == before


@pytest.mark.slow
def test_convert_weights_never_replaces_its_input(checkpoint, tmp_path):
    before = sha(checkpoint)
    code, text = run('tools/convert_weights.py', checkpoint, checkpoint,
                     '--force')
    assert code != 0 and 'is the input weights' in text
    assert sha(checkpoint) == before
    code, text = run('tools/convert_official_checkpoint.py', checkpoint,
                     tmp_path / '.' / 'm.pth', '--force')
    assert code != 0 and 'is the official checkpoint' in text
    assert sha(checkpoint) == before


@pytest.mark.slow
def test_data_generators_and_train_refuse_a_file_as_folder(tmp_path):
    existing = tmp_path / 'notes.txt'
    existing.write_text('keep me')
    for tool in ('tools/data/make_synthetic_videos.py',
                 'tools/data/make_synthetic_ava.py'):
        code, text = run(tool, '--out', existing)
        assert code != 0 and 'is a file, not a folder' in text
    code, text = run('tools/train.py', CONFIG, '--work-dir', existing)
    assert code != 0 and '--work-dir' in text
    assert 'is a file, not a folder' in text and 'Traceback' not in text
    assert existing.read_text() == 'keep me'


def test_check_output_rules(tmp_path):
    src = tmp_path / 'in.pth'
    src.write_bytes(b'x')
    out = tmp_path / 'out.pth'
    assert check_output(str(out), [str(src)]) == str(out)
    out.write_bytes(b'old')
    with pytest.raises(OutputPathError, match='exists; pass --force'):
        check_output(str(out), [str(src)])
    assert check_output(str(out), [str(src)], force=True) == str(out)
    hard = tmp_path / 'hard.pth'
    os.link(src, hard)  # another name, the same file
    with pytest.raises(OutputPathError, match='is the input'):
        check_output(str(hard), [str(src)], force=True)
    with pytest.raises(OutputPathError, match='cannot write into'):
        check_output('/proc/1/out.pth', force=True)
    with pytest.raises(OutputPathError, match='is a file, not a folder'):
        check_output(str(src / 'x.pth'), force=True)


def test_atomic_dump_keeps_the_previous_file_on_failure(tmp_path):
    import zeroi2v_mm  # noqa: F401
    from zeroi2v_mm.evaluation import AtomicDumpResults
    out = tmp_path / 'preds.pkl'
    out.write_bytes(b'previous')
    dumper = AtomicDumpResults(out_file_path=str(out))
    with pytest.raises(Exception):
        dumper.compute_metrics([lambda: 0])  # cannot be pickled
    assert out.read_bytes() == b'previous'
    assert os.listdir(tmp_path) == ['preds.pkl']
    dumper.compute_metrics([{'pred_score': torch.ones(2)}])
    assert out.read_bytes() != b'previous'
