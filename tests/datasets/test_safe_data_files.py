"""Issue 26, part 3: no code from data files. AVA proposals load through a
restricted unpickler (containers and NumPy arrays only, the checkpoints'
opt-in); a crafted proposals pickle is refused through tools/train.py and
its marker file never appears. The AVA annotation checks name file, line,
value and fix for the raw cases (Latin-1, action id 99, box outside)."""
import os
import pickle

import numpy as np
import pytest

import zeroi2v_mm  # noqa: F401
from mmaction.registry import DATASETS
from zeroi2v_mm.utils.safe_pickle import UnsafePickleError, load_pickled_data

from helpers import run_status, sha256_of
from helpers.ava import TINY, val_dataset_cfg

CONFIG = 'configs/demo/zeroi2v_ava_synthetic.py'


class Crafted:
    """Pickles as os.system(command): what a hostile proposals file does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


sha = sha256_of


def crafted_file(tmp_path):
    marker = tmp_path / 'MARKER'
    path = tmp_path / 'ava_dense_proposals_train.FAIR.recall_93.9.pkl'
    with open(path, 'wb') as file:
        pickle.dump({'v,0902': Crafted(f'touch {marker}')}, file)
    return path, marker


@pytest.mark.slow
def test_crafted_proposals_are_refused_by_train_and_never_run(tmp_path):
    path, marker = crafted_file(tmp_path)
    before = sha(path)
    code, text = run_status(
        'python',
        'tools/train.py',
        CONFIG,
        '--work-dir',
        tmp_path / 'work',
        '--cfg-options',
        *TINY,
        f'train_dataloader.dataset.proposal_file={path}',
        ZEROI2V_TRUSTED_CHECKPOINTS=None)
    assert code != 0
    assert 'refused to load' in text and 'system' in text
    assert str(path) in text
    assert not marker.exists()
    assert sha(path) == before


def test_restricted_unpickler_reads_proposals_and_honours_the_opt_in(
        tmp_path, monkeypatch):
    proposals = {
        'v,0902': np.random.rand(3, 5).astype(np.float32),
        'v,0903': np.zeros((0, 4))
    }
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        good = tmp_path / f'good{protocol}.pkl'
        good.write_bytes(pickle.dumps(proposals, protocol=protocol))
        loaded = load_pickled_data(str(good))
        assert loaded.keys() == proposals.keys()
        assert all(np.array_equal(loaded[k], v) for k, v in proposals.items())
    path, marker = crafted_file(tmp_path)
    monkeypatch.delenv('ZEROI2V_TRUSTED_CHECKPOINTS', raising=False)
    with pytest.raises(UnsafePickleError, match='ZEROI2V_TRUSTED'):
        load_pickled_data(str(path))
    assert not marker.exists()
    # the same opt-in as checkpoints: a file the user trusts loads in full
    monkeypatch.setenv('ZEROI2V_TRUSTED_CHECKPOINTS', str(path))
    load_pickled_data(str(path))
    assert marker.exists()


@pytest.fixture(scope='module')
def ava(tmp_path_factory):
    from zeroi2v_mm.testing import synthetic_ava as tool
    root = tmp_path_factory.mktemp('ava')
    tool.make_dataset(root, train_videos=1, val_videos=1)
    return val_dataset_cfg(root, 'CheckedAVADataset')


@pytest.mark.parametrize('edit, message', [
    (lambda f: f[:6] + ['99'] + f[7:],
     r':1: action id 99 is outside \[1, 5\).*num_classes'),
    (lambda f: f[:2] + ['0.5', '0.5', '1.7', '0.9'] + f[6:],
     r':1: box \[0.5, 0.5, 1.7, 0.9\] is outside the frame'),
    (lambda f: f[:7], r':1: 7 fields.*expected 8'),
])
def test_ava_annotation_raw_cases_are_named(ava, tmp_path, edit, message):
    lines = open(ava['ann_file']).read().splitlines()
    lines[0] = ','.join(edit(lines[0].split(',')))
    bad = tmp_path / 'ann.csv'
    bad.write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError, match=message):
        DATASETS.build(dict(ava, ann_file=str(bad)))


def test_ava_latin1_annotation_is_named(ava, tmp_path):
    lines = open(ava['ann_file']).read().splitlines()
    bad = tmp_path / 'ann.csv'
    bad.write_bytes(('\n'.join(lines[:2]) + '\n').encode() +
                    'vid\xe9o,0902,0.1,0.1,0.2,0.2,1,0\n'.encode('latin-1'))
    with pytest.raises(ValueError, match=r'ann.csv:3: not UTF-8.*0xe9'):
        DATASETS.build(dict(ava, ann_file=str(bad)))
    # and the good file still loads, with its proposals
    dataset = DATASETS.build(ava)
    assert len(dataset) > 0 and dataset.proposals
