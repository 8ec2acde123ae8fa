"""Issue 26, part 2: no silent wrong numbers. NaN weights stop tools/test.py
(FiniteCheckHook) naming the checkpoint; an annotation line without a label
is an error naming file and line; convert_weights.py refuses a dict that is
not one consistent ViT; the few-shot manifest's num_classes is the largest
label + 1."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config, DictAction

from helpers import (REPO, load_tool, make_tiny_videos, run_status, sha256_of,
                     tiny_demo_overrides)

CONFIG = 'configs/demo/zeroi2v_synthetic.py'

sha = sha256_of


def run(*args):
    return run_status('python', *args)


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """Tiny videos and a full checkpoint of the tiny demo model with NaN
    in one weight."""
    from mmengine.registry import init_default_scope

    import zeroi2v_mm  # noqa: F401
    from mmaction.registry import MODELS
    root = tmp_path_factory.mktemp('nan')
    data = make_tiny_videos(root / 'data')
    options = tiny_demo_overrides(data, str(root / 'work'))
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.merge_from_dict({
        key: DictAction._parse_iterable(value)
        for key, value in (o.split('=', 1) for o in options[:7])
    })
    init_default_scope('mmaction')
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    name = next(k for k in state if k.endswith('cls_head.fc_cls.weight'))
    state[name][0, 0] = float('nan')
    checkpoint = root / 'nan.pth'
    torch.save({'state_dict': state, 'meta': {}}, checkpoint)
    return dict(
        root=root,
        data=data,
        options=options,
        checkpoint=checkpoint,
        bad_key=name)


@pytest.mark.slow
def test_nan_weights_stop_testing_naming_the_checkpoint(tiny_run):
    checkpoint = tiny_run['checkpoint']
    before = sha(checkpoint)
    code, text = run('tools/test.py', CONFIG, checkpoint, '--work-dir',
                     tiny_run['root'] / 'test', '--cfg-options',
                     *tiny_run['options'])
    assert code != 0
    assert str(checkpoint) in text and tiny_run['bad_key'] in text
    assert 'NaN or infinite' in text and 'acc/top1' not in text
    assert sha(checkpoint) == before


@pytest.mark.slow
def test_line_without_label_is_an_error_in_test_and_train(tiny_run):
    data = tiny_run['data']
    broken = tiny_run['root'] / 'no_label.txt'
    lines = open(osp.join(data, 'val_list.txt')).read().splitlines()
    lines[1] = lines[1].split()[0]  # the path alone
    broken.write_text('\n'.join(lines) + '\n')
    before = sha(broken)
    code, text = run('tools/test.py', CONFIG, tiny_run['checkpoint'],
                     '--work-dir', tiny_run['root'] / 'test2', '--cfg-options',
                     *tiny_run['options'],
                     f'test_dataloader.dataset.ann_file={broken}')
    assert code != 0
    assert f'{broken}:2: no label' in text
    # training and validation read lines the same way
    import zeroi2v_mm  # noqa: F401
    from mmaction.registry import DATASETS
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    dataset = cfg.train_dataloader.dataset.to_dict()
    dataset.update(
        ann_file=str(broken), data_prefix=dict(video=osp.join(data, 'videos')))
    for test_mode in (False, True):
        with pytest.raises(ValueError, match=r'no_label.txt:2: no label'):
            DATASETS.build(dict(dataset, test_mode=test_mode))
    assert sha(broken) == before


def _clip_state(width):
    import open_clip
    torch.manual_seed(0)
    clip = open_clip.CLIP(
        embed_dim=32,
        quick_gelu=True,
        vision_cfg=dict(image_size=32, layers=2, width=width, patch_size=8),
        text_cfg=dict(
            context_length=8, vocab_size=50, width=32, heads=2, layers=1))
    return clip.state_dict()


@pytest.mark.slow
def test_convert_weights_refuses_mixed_blocks_and_non_vits(tmp_path):
    state = _clip_state(64)
    wide = _clip_state(128)
    for key in list(state):
        if key.startswith('visual.transformer.resblocks.1.'):
            state[key] = wide[key]
    mixed = tmp_path / 'mixed.pth'
    torch.save(state, mixed)
    out = tmp_path / 'out.pth'
    code, text = run('tools/convert_weights.py', mixed, out)
    assert code != 0 and 'block 1 does not match block 0' in text
    assert 'Traceback' not in text and not out.exists()
    resnet = tmp_path / 'resnet.pth'
    torch.save(
        {
            'conv1.weight': torch.zeros(8, 3, 7, 7),
            'bn1.weight': torch.ones(8),
            'layer1.0.conv1.weight': torch.zeros(8, 8, 3, 3)
        }, resnet)
    code, text = run('tools/convert_weights.py', resnet, out)
    assert code != 0 and str(resnet) in text
    assert 'Traceback' not in text and not out.exists()


def test_few_shot_manifest_num_classes_is_max_label_plus_one(tmp_path):
    tool = load_tool('tools/data/make_few_shot_split.py')
    src = tmp_path / 'train.txt'
    src.write_text(''.join(f'v{i}.mp4 {label}\n'
                           for i, label in enumerate([0, 0, 2, 2])))
    out = tmp_path / 'few.txt'
    assert tool.main(
        [str(src), '--shots', '1', '--seed', '0', '--out',
         str(out)]) == 0
    manifest = json.loads(
        (tmp_path / 'few_manifest.json').read_text(encoding='utf-8'))
    assert manifest['num_classes'] == 3
    assert manifest['classes_present'] == 2
