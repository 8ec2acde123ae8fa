"""Issue 26, part 5: a known mistake prints one message (no traceback) and
exits non-zero in tools/train.py, tools/test.py, the other tools and under
`mim train` (zeroi2v_mm.utils.cli); ZEROI2V_DEBUG=1 / --debug bring the
traceback back; an unexpected error keeps its traceback. The raw cases of
the issue get messages naming the file, the value and the fix."""
import os.path as osp

import pytest

from zeroi2v_mm.utils.cli import known_error

from helpers import (REPO, VENV_BIN, make_tiny_videos, run_status, sha256_of,
                     tiny_demo_overrides)

CONFIG = 'configs/demo/zeroi2v_synthetic.py'

sha = sha256_of
run = run_status


@pytest.fixture(scope='module')
def broken_list(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    data = make_tiny_videos(root / 'data')
    lines = open(osp.join(data, 'train_list.txt')).read().splitlines()
    lines[1] = lines[1].split()[0]  # no label
    broken = root / 'train_no_label.txt'
    broken.write_text('\n'.join(lines) + '\n')
    options = tiny_demo_overrides(data, str(root / 'work')) + [
        f'train_dataloader.dataset.ann_file={broken}', 'custom_hooks=[]'
    ]
    return dict(root=root, path=broken, options=options)


@pytest.mark.slow
@pytest.mark.parametrize('launcher', ['tools', 'mim'])
def test_data_check_prints_one_message(broken_list, launcher):
    before = sha(broken_list['path'])
    work = broken_list['root'] / f'work_{launcher}'
    command = (['python', 'tools/train.py', CONFIG] if launcher == 'tools' else
               [osp.join(VENV_BIN, 'mim'), 'train', 'mmaction', CONFIG])
    code, text = run(*command, '--work-dir', work, '--cfg-options',
                     *broken_list['options'])
    assert code != 0
    assert f"error: {broken_list['path']}:2: no label" in text
    if launcher == 'tools':
        assert 'Traceback' not in text
    else:
        # The training process prints the message alone; mim itself then
        # reports the failed subprocess with a traceback of its own CLI
        # (bin/mim, click), which is mim's to change.
        trainer = text.split('Traceback')[0]
        assert 'no label' in trainer and 'File "' not in trainer
        assert 'mmengine/runner' not in text and 'zeroi2v_mm/' not in text
    assert sha(broken_list['path']) == before
    if launcher == 'tools':
        code, text = run(
            *command,
            '--work-dir',
            work,
            '--cfg-options',
            *broken_list['options'],
            ZEROI2V_DEBUG='1')
        assert code != 0 and 'Traceback' in text and 'no label' in text


@pytest.mark.slow
def test_raw_cases_get_messages(tmp_path):
    # a tuple element set by --cfg-options (MMEngine: AttributeError)
    code, text = run('python', 'tools/train.py', CONFIG, '--work-dir',
                     tmp_path / 'w', '--cfg-options',
                     'model.backbone.stdha.offsets.1=1')
    assert code != 0 and 'Traceback' not in text
    assert 'model.backbone.stdha.offsets.1' in text
    assert 'Set the whole value' in text
    # a directory given as the checkpoint
    code, text = run('python', 'tools/test.py', CONFIG, tmp_path)
    assert code != 0 and f'checkpoint {tmp_path} is a directory' in text
    assert 'Traceback' not in text
    # --device tpu, --shape 0
    checkpoint = tmp_path / 'c.pth'
    checkpoint.write_bytes(b'x')
    code, text = run('python', 'tools/merge_adapters.py', CONFIG, checkpoint,
                     '--out', tmp_path / 'm.pth', '--device', 'tpu')
    assert code != 0 and '--device tpu' in text and 'Traceback' not in text
    code, text = run('python', 'tools/analysis/get_flops.py', CONFIG,
                     '--shape', '0', '32', '32')
    assert code == 2 and '0: must be >= 1' in text
    # the export tool: --opset 3, --shape 0, one message, nothing written
    export = 'tools/deployment/export_onnx.py'
    code, text = run('python', export, CONFIG, checkpoint, '--out',
                     tmp_path / 'm.onnx', '--opset', '3')
    assert code == 1 and '--opset 3: this torch exports opsets' in text
    assert 'Traceback' not in text
    code, text = run('python', export, CONFIG, checkpoint, '--out',
                     tmp_path / 'm.onnx', '--shape', '0', '8', '32', '32')
    assert code == 2 and '0: must be >= 1' in text
    assert not (tmp_path / 'm.onnx').exists()


def test_latin1_annotation_file_is_named(tmp_path):
    from mmengine.config import Config

    import zeroi2v_mm  # noqa: F401
    from mmaction.registry import DATASETS
    ann = tmp_path / 'list.txt'
    ann.write_bytes('a.mp4 0\nvid\xe9o.mp4 1\n'.encode('latin-1'))
    (tmp_path / 'videos').mkdir()
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    dataset = cfg.train_dataloader.dataset.to_dict()
    dataset.update(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'videos')))
    with pytest.raises(ValueError, match=r'list.txt:2: not UTF-8.*0xe9'):
        DATASETS.build(dataset)


def test_only_our_deliberate_errors_count_as_known():
    from zeroi2v_mm.utils import io as zio
    from zeroi2v_mm.utils.io import OutputPathError
    try:
        zio.check_output('', [])
    except OutputPathError as error:
        assert known_error(error) is error
    try:
        zio.same_file(None, 'x')  # a bug: a TypeError in our code
    except TypeError as error:
        assert known_error(error) is None
    try:
        int('x')  # a ValueError raised outside the package
    except ValueError as error:
        assert known_error(error) is None
    # re-raised by MMEngine's registry: the original is found
    try:
        try:
            zio.check_output('', [])
        except OutputPathError as inner:
            raise OutputPathError(f'class `X` in y.py: {inner}')
    except ValueError as error:
        assert known_error(error) is not None
