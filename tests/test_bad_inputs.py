"""Bad input fails at once with an error naming the file, key or value."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmaction.registry import DATASETS
from zeroi2v_mm.models import ZeroI2VViT

from helpers import REPO, TINY_ARCH


def test_missing_pretrained_file_fails_when_weights_init_with_path(tmp_path):
    """Building does not need the file
    (tests/configs/test_without_pretrained.py); initialising from it, what
    training does first, fails naming it."""
    path = str(tmp_path / 'ViT-B-16.pt')
    model = ZeroI2VViT(arch=TINY_ARCH, num_frames=2, pretrained=path)
    with pytest.raises(FileNotFoundError, match='ViT-B-16.pt'):
        model.init_weights()


def test_checkpoint_of_another_model_names_key_and_shapes(tmp_path):
    other = ZeroI2VViT(arch=dict(TINY_ARCH, width=32, heads=2), num_frames=2)
    path = str(tmp_path / 'small.pth')
    torch.save(other.state_dict(), path)
    model = ZeroI2VViT(arch=TINY_ARCH, num_frames=2, pretrained=path)
    with pytest.raises(
            ValueError,
            match=r'small.pth: shape mismatch for '
            r'\S+: checkpoint \(32.*\) vs model \(64'):
        model.init_weights()


def test_checkpoint_for_other_frame_count_is_refused(tmp_path):
    other = ZeroI2VViT(arch=TINY_ARCH, num_frames=4)
    path = str(tmp_path / 'four_frames.pth')
    torch.save(
        {
            'state_dict': {
                'backbone.' + k: v
                for k, v in other.state_dict().items()
            }
        }, path)
    model = ZeroI2VViT(arch=TINY_ARCH, num_frames=8, pretrained=path)
    with pytest.raises(ValueError, match='temporal_embedding'):
        model.init_weights()


def test_non_clip_file_is_refused(tmp_path):
    path = str(tmp_path / 'resnet.pth')
    torch.save({'layer1.0.conv1.weight': torch.zeros(1)}, path)
    model = ZeroI2VViT(arch=TINY_ARCH, num_frames=2, pretrained=path)
    with pytest.raises(
            ValueError, match='resnet.pth: not a ViT this backbone reads'):
        model.init_weights()


def test_unmerged_checkpoint_into_plain_model_says_what_to_do(tmp_path):
    adapted = ZeroI2VViT(arch=TINY_ARCH, num_frames=2, adapters=dict())
    path = str(tmp_path / 'adapted.pth')
    torch.save(adapted.state_dict(), path)
    plain = ZeroI2VViT(arch=TINY_ARCH, num_frames=2, pretrained=path)
    with pytest.raises(ValueError, match='merge_adapters'):
        plain.init_weights()


@pytest.mark.parametrize('bad,message', [
    (dict(stdha=dict(offset={1: 1})), 'unknown stdha keys'),
    (dict(adapters=dict(num_adapters=5)), 'num_adapters=5'),
    (dict(adapters=dict(rank=4)), 'unknown adapters keys'),
    (dict(arch='ViT-H/14'), "unknown arch 'ViT-H/14'"),
    (dict(act='relu'), "act='relu'"),
    (dict(compress=dict(type='InTI', after_blocks=(3, ))), 'after_blocks'),
    (dict(compress=dict(type='InTI', after_blocks=(1, 1))),
     r'after_blocks=\(1, 1\): block 1 is listed twice'),
    (dict(adapters=dict(scale='0.5')),
     "adapters scale='0.5' must be a number"),
    (dict(adapters=dict(ratio=None)), 'adapters ratio=None must be a number'),
    (dict(stdha=dict(offsets=[(1, 1), (1, 2)])), 'offset 1 is listed twice'),
    (dict(stdha=dict(offsets='{1: oops}')), 'is not readable'),
])
def test_bad_backbone_arguments(bad, message):
    kwargs = dict(arch=TINY_ARCH, num_frames=8)
    kwargs.update(bad)
    with pytest.raises(ValueError, match=message):
        ZeroI2VViT(**kwargs)


def test_stdha_offsets_and_after_blocks_as_cfg_options_give_them():
    """--cfg-options hands over offsets as a list of tuples, or a dict split
    at its comma into strings; after_blocks as an int or a tuple. All build
    the same model as the config's own dict."""
    from mmengine.config import DictAction
    parse = DictAction._parse_iterable
    expected = ZeroI2VViT(
        arch=TINY_ARCH, num_frames=4, stdha=dict(offsets={
            -1: 1,
            1: 1
        }))
    for text in ('[(-1,1),(1,1)]', '{-1:1,1:1}'):
        model = ZeroI2VViT(
            arch=TINY_ARCH, num_frames=4, stdha=dict(offsets=parse(text)))
        assert model.stdha_cfg == expected.stdha_cfg, text
        assert list(model.stdha_cfg['offsets']) == [-1, 1]  # head order
    for text, blocks in (('1', (1, )), ('(1,2)', (1, 2))):
        model = ZeroI2VViT(
            arch=TINY_ARCH,
            num_frames=8,
            compress=dict(type='InTI', after_blocks=parse(text)))
        assert model.compress_cfg['after_blocks'] == blocks
        assert sorted(model.compressors) == [str(b) for b in blocks]


def _demo_dataset_cfg(**overrides):
    cfg = Config.fromfile(osp.join(REPO, 'configs/demo/zeroi2v_synthetic.py'))
    dataset = cfg.train_dataloader.dataset.to_dict()
    dataset.update(overrides)
    return dataset


def test_missing_annotation_file_says_what_to_get(tmp_path):
    cfg = _demo_dataset_cfg(ann_file=str(tmp_path / 'train_list.txt'))
    with pytest.raises(
            FileNotFoundError, match='train_list.txt.*make_synthetic_videos'):
        DATASETS.build(cfg)


def test_missing_video_folder_is_named(tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('a.mp4 0\n')
    cfg = _demo_dataset_cfg(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'videos')))
    with pytest.raises(FileNotFoundError, match='video folder not found'):
        DATASETS.build(cfg)


def test_malformed_annotation_line_is_named(tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('a.mp4 0\nb.mp4 zero\n')
    (tmp_path / 'videos').mkdir()
    cfg = _demo_dataset_cfg(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'videos')))
    with pytest.raises(ValueError, match='list.txt:2'):
        DATASETS.build(cfg)


def test_unreadable_video_names_file_and_line(tmp_path):
    (tmp_path / 'videos').mkdir()
    (tmp_path / 'videos' / 'broken.mp4').write_bytes(b'not a video')
    ann = tmp_path / 'list.txt'
    ann.write_text('broken.mp4 1\n')
    cfg = _demo_dataset_cfg(
        ann_file=str(ann), data_prefix=dict(video=str(tmp_path / 'videos')))
    dataset = DATASETS.build(cfg)
    with pytest.raises(RuntimeError, match=r'broken.mp4 \(.*list.txt line 1'):
        dataset[0]


def test_k400_config_without_weights_stops_at_once(tmp_path, monkeypatch):
    """Training starts with init_weights: it stops there, naming the file
    (building alone does not need it:
    tests/configs/test_without_pretrained.py)."""
    from mmaction.registry import MODELS
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'))
    model = MODELS.build(cfg.model)
    with pytest.raises(
            FileNotFoundError, match='checkpoints/clip/ViT-B-16.pt.*OpenAI'):
        model.init_weights()


def test_k400_config_without_data_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'))
    with pytest.raises(
            FileNotFoundError,
            match='kinetics400_train_list_videos.txt.*tools/data/'
            'kinetics'):
        DATASETS.build(cfg.train_dataloader.dataset)


def test_missing_work_dir_weights_say_which_step_writes_them():
    missing = 'work_dirs/no_such_run/pretrained_image_vit.pth'
    model = ZeroI2VViT(arch=TINY_ARCH, pretrained=missing)
    with pytest.raises(FileNotFoundError) as error:
        model.init_weights()
    assert missing in str(error.value)
    assert 'tools/run_demo.sh' in str(error.value)


@pytest.mark.parametrize('adapter', ['LinearAdapter', 'GELUAdapter'])
def test_empty_adapter_bottleneck_names_ratio_and_width(adapter):
    from zeroi2v_mm.models import layers, peft
    module = layers if adapter == 'LinearAdapter' else peft
    with pytest.raises(ValueError, match=r'ratio=0\.01 .*embed_dims=64'):
        getattr(module, adapter)(64, ratio=0.01)


def test_checkpoint_trained_with_another_activation_is_refused(tmp_path):
    """The activation is recorded in the checkpoint (state-dict metadata, as
    MMEngine's runner saves it) and checked when it is loaded."""
    from mmengine.runner.checkpoint import (get_state_dict, load_checkpoint,
                                            save_checkpoint)

    from zeroi2v_mm.utils.checkpoint import CheckpointMismatchError

    class Recognizer(torch.nn.Module):

        def __init__(self, act):
            super().__init__()
            self.backbone = ZeroI2VViT(arch=TINY_ARCH, num_frames=2, act=act)

    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint({'state_dict': get_state_dict(Recognizer('gelu'))}, path)
    with pytest.raises(
            CheckpointMismatchError,
            match=r"trained with act='gelu'.*this model has "
            r"act='quick_gelu'.*model.backbone.act='gelu'"):
        load_checkpoint(Recognizer('quick_gelu'), path, map_location='cpu')
    load_checkpoint(Recognizer('gelu'), path, map_location='cpu', strict=True)


def test_clips_of_another_shape_or_frame_count_are_refused():
    """The ViT's input check (shared with ZeroI2VSwin): not 5-D, or a clip
    length other than the backbone's num_frames, is refused by name."""
    model = ZeroI2VViT(arch=TINY_ARCH, num_frames=4)
    size = TINY_ARCH['image_size']
    with pytest.raises(ValueError, match=r'ZeroI2VViT expects \(N, 3, T'):
        model(torch.zeros(1, 3, size, size))
    with pytest.raises(ValueError, match='2 frames.*num_frames=4'):
        model(torch.zeros(1, 3, 2, size, size))
    assert model(torch.zeros(1, 3, 4, size, size)).shape[2] == 4
