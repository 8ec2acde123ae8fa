"""K-shot subsets (zeroi2v_mm/datasets/few_shot.py and its CLI
tools/data/make_few_shot_split.py): exactly K per class in the input's format,
reproducible by seed, other seeds differ, too-large K refused by class, the
manifest, no overwriting, and the subset loads in MMAction2's datasets."""
import hashlib
import json
import os
import os.path as osp
from collections import Counter

import pytest

from zeroi2v_mm.datasets.few_shot import (FewShotError, choose_shots,
                                          make_few_shot_split,
                                          manifest_path_of, read_annotations)

from helpers import load_tool

# class c has 6 + c entries: classes 0..4
COUNTS = {label: 6 + label for label in range(5)}


def _write_video_list(path, counts=COUNTS):
    lines = [
        f'c{label}/v{i}.mp4 {label}' for label, count in counts.items()
        for i in range(count)
    ]
    # interleaved, as real lists are: per-class order is not file order
    lines = lines[::2] + lines[1::2]
    path.write_text('\n'.join(lines) + '\n')
    return lines


def _labels(lines):
    return Counter(int(line.split()[-1]) for line in lines)


@pytest.mark.parametrize('fmt', ['video', 'rawframes', 'json'])
def test_exactly_k_per_class_in_the_input_format(tmp_path, fmt):
    if fmt == 'video':
        src = tmp_path / 'train.txt'
        _write_video_list(src)
    elif fmt == 'rawframes':
        src = tmp_path / 'train.txt'
        src.write_text(''.join(f'c{label}/v{i} {30 + i} {label}\n'
                               for label, count in COUNTS.items()
                               for i in range(count)))
    else:
        src = tmp_path / 'train.json'
        src.write_text(
            json.dumps([
                dict(filename=f'c{label}/v{i}.mp4', label=label)
                for label, count in COUNTS.items() for i in range(count)
            ]))
    out = tmp_path / ('few.json' if fmt == 'json' else 'few.txt')
    manifest = make_few_shot_split(str(src), str(out), shots=4, seed=0)
    assert manifest['format'] == fmt
    if fmt == 'json':
        chosen = json.loads(out.read_text())
        assert Counter(item['label'] for item in chosen) == \
            {label: 4 for label in COUNTS}
        source = json.loads(src.read_text())
        assert all(item in source for item in chosen)
    else:
        chosen = out.read_text().splitlines()
        assert _labels(chosen) == {label: 4 for label in COUNTS}
        source = src.read_text().splitlines()
        assert all(line in source for line in chosen)
        # source order kept
        assert chosen == [line for line in source if line in chosen]
    assert len(chosen) == len(set(map(str, chosen))) == 20


def test_reproducible_by_seed_and_other_seeds_differ(tmp_path):
    src = tmp_path / 'train.txt'
    _write_video_list(src)
    subsets = {}
    for name, seed in (('a', 1), ('b', 1), ('c', 2)):
        out = tmp_path / f'{name}.txt'
        make_few_shot_split(str(src), str(out), shots=3, seed=seed)
        subsets[name] = out.read_text()
    assert subsets['a'] == subsets['b']
    assert subsets['a'] != subsets['c']
    # a class's choice depends on the seed only, not on the other classes
    _, entries = read_annotations(str(src))
    fewer = [e for e in entries if e.label != 0]
    keep = [e.item for e in choose_shots(entries, 3, seed=1) if e.label != 0]
    assert [e.item for e in choose_shots(fewer, 3, seed=1)] == keep


def test_too_large_k_is_refused_naming_the_classes(tmp_path):
    src = tmp_path / 'train.txt'
    _write_video_list(src)
    with pytest.raises(
            FewShotError,
            match=r'fewer entries in 2 of 5 classes \(class 0 '
            r'has 6, class 1 has 7\); choose --shots <= 6'):
        make_few_shot_split(
            str(src), str(tmp_path / 'few.txt'), shots=8, seed=0)
    assert sorted(os.listdir(tmp_path)) == ['train.txt']  # nothing written
    make_few_shot_split(str(src), str(tmp_path / 'few.txt'), shots=6, seed=0)
    with pytest.raises(FewShotError, match='must be an integer >= 1'):
        make_few_shot_split(str(src), str(tmp_path / 'x.txt'), shots=0, seed=0)


def test_manifest(tmp_path):
    src = tmp_path / 'train.txt'
    _write_video_list(src)
    out = tmp_path / 'train_2shot_seed5.txt'
    returned = make_few_shot_split(str(src), str(out), shots=2, seed=5)
    path = manifest_path_of(str(out))
    assert path == str(tmp_path / 'train_2shot_seed5_manifest.json')
    manifest = json.load(open(path))
    assert manifest == returned
    assert manifest['source'] == str(src)
    assert manifest['source_sha256'] == hashlib.sha256(
        src.read_bytes()).hexdigest()
    assert manifest['out_sha256'] == hashlib.sha256(
        out.read_bytes()).hexdigest()
    assert (manifest['shots'], manifest['seed']) == (2, 5)
    assert manifest['num_classes'] == 5 and manifest['num_entries'] == 10
    assert manifest['per_class'] == {
        str(label): dict(source=count, chosen=2)
        for label, count in COUNTS.items()
    }
    lines = src.read_text().splitlines()
    assert [c['entry'] for c in manifest['chosen']] == \
        out.read_text().splitlines()
    for chosen in manifest['chosen']:  # line numbers point into the source
        assert lines[chosen['line'] - 1] == chosen['entry']
        assert chosen['entry'].endswith(f" {chosen['label']}")


def test_never_overwrites_without_force_and_never_the_input(tmp_path):
    src = tmp_path / 'train.txt'
    _write_video_list(src)
    out = tmp_path / 'few.txt'
    out.write_text('an earlier subset\n')
    with pytest.raises(FewShotError, match='few.txt exists; pass --force'):
        make_few_shot_split(str(src), str(out), shots=2, seed=0)
    assert out.read_text() == 'an earlier subset\n'
    assert not osp.exists(manifest_path_of(str(out)))
    make_few_shot_split(str(src), str(out), shots=2, seed=0, force=True)
    assert len(out.read_text().splitlines()) == 10
    before = src.read_text()
    with pytest.raises(FewShotError, match='that this run reads'):
        make_few_shot_split(
            str(src),
            str(tmp_path / '.' / 'train.txt'),
            shots=2,
            seed=0,
            force=True)
    assert src.read_text() == before


@pytest.mark.parametrize('text, message', [
    ('a.mp4 0\nb.mp4 x\n', r'line 2: label .x. is not an integer'),
    ('a.mp4 0\nb.mp4 -1\n', r'line 2: label -1 is negative'),
    ('a.mp4 0\nb.mp4 3 1\n', r'cannot tell the format.*\[2, 3\]'),
    ('\n\n', 'no annotations'),
])
def test_bad_annotations_name_file_and_line(tmp_path, text, message):
    src = tmp_path / 'train.txt'
    src.write_text(text)
    with pytest.raises(FewShotError, match=message):
        make_few_shot_split(
            str(src), str(tmp_path / 'few.txt'), shots=1, seed=0)
    assert sorted(os.listdir(tmp_path)) == ['train.txt']


def test_multi_label_json_is_refused(tmp_path):
    src = tmp_path / 'train.json'
    src.write_text(json.dumps([dict(filename='a.mp4', label=[0, 2])]))
    with pytest.raises(FewShotError, match='entry 1.*single-label'):
        read_annotations(str(src))


def test_cli_and_the_subset_loads_in_mmaction(tmp_path, capsys):
    from mmaction.datasets import VideoDataset
    src = tmp_path / 'train.txt'
    _write_video_list(src)
    tool = load_tool('tools/data/make_few_shot_split.py')
    out = str(tmp_path / 'few.txt')
    assert tool.main([str(src), '--shots', '3', '--seed', '0', '--out',
                      out]) == 0
    assert '15 entries (3 per class x 5 classes, seed 0)' in \
        capsys.readouterr().out
    with pytest.raises(SystemExit, match='error: .*few.txt exists'):
        tool.main([str(src), '--shots', '3', '--seed', '0', '--out', out])
    dataset = VideoDataset(
        out, pipeline=[], data_prefix=dict(video='v'), lazy_init=False)
    assert len(dataset) == 15
    assert Counter(dataset.get_data_info(i)['label'] for i in range(15)) == {
        label: 3
        for label in COUNTS
    }


def test_documented_task_config_sets_every_path_and_class_count(tmp_path):
    """The per-task config of docs/en/user_guides/few_shot.md, on the VidTAB
    base config: head and datasets get the task's class count, the loaders
    its lists."""
    import re

    from mmengine.config import Config

    from helpers import REPO
    text = open(osp.join(REPO, 'docs', 'en', 'user_guides',
                         'few_shot.md')).read()
    code = re.search(r'```python\n(.*?)```', text, re.S).group(1)
    base = osp.join(
        REPO, 'configs', 'recognition', 'zeroi2v',
        'zeroi2v_clip-vit-large-p14_u8-40e_vidtab-few-shot-rgb.py')
    assert f"_base_ = ['{osp.basename(base)}']" in code
    path = tmp_path / 'task.py'
    path.write_text(code.replace(osp.basename(base), base))
    cfg = Config.fromfile(str(path))
    assert cfg.model.cls_head.num_classes == 11
    assert cfg.model.backbone.arch == 'ViT-L/14'
    root = 'data/vidtab/dark_scene'
    for loader, ann in (('train', 'train_16shot_seed0.txt'),
                        ('val', 'val.txt'), ('test', 'test.txt')):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert dataset.ann_file == f'{root}/{ann}'
        assert dataset.data_prefix.video == f'{root}/videos'
        assert dataset.num_classes == 11
        assert dataset.type == 'CheckedVideoDataset' and dataset.pipeline
    # the base itself: the placeholder task, the tool's file names
    base_cfg = Config.fromfile(base)
    assert base_cfg.train_dataloader.dataset.ann_file == \
        'data/vidtab/TASK/train_16shot_seed0.txt'
