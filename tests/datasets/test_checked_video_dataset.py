"""Bad data is named (CheckedVideoDataset): an empty, corrupt, missing or
too short video by its file and list line, a label outside the classes at
load (and by the head), an empty list; skip mode warns, counts and trains
on another sample, evaluation never skips, and all-bad data stops early."""
import os.path as osp

import pytest
import torch

from mmaction.registry import DATASETS

from helpers import REPO

CONFIG = 'configs/demo/zeroi2v_synthetic.py'


def _dataset(tmp_path, lines, **kwargs):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{line}\n' for line in lines))
    dataset = cfg.train_dataloader.dataset.to_dict()
    dataset.update(
        ann_file=str(ann),
        data_prefix=dict(video=str(tmp_path / 'videos')),
        **kwargs)
    return DATASETS.build(dataset)


@pytest.fixture
def video_folder(tmp_path, tiny_data):
    videos = tmp_path / 'videos'
    videos.mkdir()
    good = osp.join(tiny_data, 'videos', 'train', 'move_left_0000.mp4')
    (videos / 'good.mp4').write_bytes(open(good, 'rb').read())
    (videos / 'empty.mp4').write_bytes(b'')
    (videos / 'corrupt.mp4').write_bytes(b'\x00' * 1000)
    return tmp_path


@pytest.mark.parametrize('name,line', [('empty.mp4', 2), ('corrupt.mp4', 2),
                                       ('missing.mp4', 2)])
def test_bad_video_is_named_with_its_line(video_folder, name, line):
    dataset = _dataset(video_folder, ['good.mp4 0', f'{name} 1'])
    dataset[0]
    with pytest.raises(
            RuntimeError, match=rf'{name} \(.*list.txt line {line}'):
        dataset[1]


def test_too_short_video_is_named(video_folder):
    # the tiny videos have 8 frames; the demo clip spans 8 x 2
    dataset = _dataset(video_folder, ['good.mp4 0'])
    dataset.pipeline.transforms.insert(
        1,
        __import__('zeroi2v_mm').datasets.CheckVideoLength(min_frames=16))
    with pytest.raises(
            RuntimeError,
            match=r'good.mp4 .*line 1.*8 frames, '
            'fewer than min_frames=16'):
        dataset[0]


def test_skip_mode_warns_counts_and_trains_on_another_sample(video_folder):
    dataset = _dataset(
        video_folder, ['corrupt.mp4 1', 'good.mp4 0'], on_bad_video='skip')
    sample = dataset[0]
    assert int(sample['data_samples'].gt_label) == 0
    assert dataset.skipped_videos >= 1


def test_evaluation_never_skips(video_folder):
    dataset = _dataset(
        video_folder, ['corrupt.mp4 1'], on_bad_video='skip', test_mode=True)
    with pytest.raises(RuntimeError, match='corrupt.mp4'):
        dataset[0]


@pytest.mark.parametrize('test_mode', [False, True])
@pytest.mark.parametrize('label', ['10', '-1'])
def test_label_outside_the_classes_is_named_at_load(video_folder, label,
                                                    test_mode):
    with pytest.raises(
            ValueError,
            match=rf'list.txt:2: label {label} is '
            r'outside \[0, 10\)'):
        _dataset(
            video_folder, ['good.mp4 0', f'good.mp4 {label}'],
            num_classes=10,
            test_mode=test_mode)
    if label == '-1':  # negative labels are refused without num_classes too
        with pytest.raises(ValueError, match=r'list.txt:1: label -1'):
            _dataset(video_folder, ['good.mp4 -1'], test_mode=test_mode)


def test_empty_annotation_file_says_so(video_folder):
    with pytest.raises(ValueError, match=r'list.txt is empty'):
        _dataset(video_folder, ['', '  '])


def test_clip_length_check_comes_from_the_pipeline(video_folder):
    """No CheckVideoLength in the config: the dataset derives the frames a
    clip needs from the sampler's clip_len (16 here; the video has 8)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    dataset = cfg.train_dataloader.dataset.to_dict()
    dataset['pipeline'][1]['clip_len'] = 16
    ann = video_folder / 'list.txt'
    ann.write_text('good.mp4 0\n')
    dataset.update(
        ann_file=str(ann),
        data_prefix=dict(video=str(video_folder / 'videos')))
    built = DATASETS.build(dataset)
    with pytest.raises(
            RuntimeError,
            match=r'good.mp4 .*line 1.*8 frames, '
            'fewer than min_frames=16'):
        built[0]
    dataset['pipeline'][1]['clip_len'] = 8  # the demo's own: fits
    assert DATASETS.build(dataset)[0]['inputs'].shape[2] == 8


def test_all_bad_videos_stop_early_with_the_count(video_folder):
    dataset = _dataset(
        video_folder, ['corrupt.mp4 1', 'empty.mp4 0', 'missing.mp4 0'],
        on_bad_video='skip')
    with pytest.raises(
            RuntimeError,
            match=r'3 of the 3 videos of .*list.txt '
            'failed to load and none has loaded'):
        dataset[0]
    assert dataset.skipped_videos < 100  # not BaseDataset's 1000 retries


def test_head_names_a_label_outside_its_classes():
    from mmaction.structures import ActionDataSample
    from zeroi2v_mm.models import ZeroI2VHead
    head = ZeroI2VHead(num_classes=7, in_channels=8)
    samples = [ActionDataSample().set_gt_label(torch.tensor(9))]
    with pytest.raises(ValueError, match=r'label 9 is outside \[0, 7\)'):
        head.loss_by_feat(torch.zeros(1, 7), samples)
