"""Every file the package writes, through every entry point a user takes it
to, with the same answer.

Artifacts of tiny trained runs: best, epoch and last checkpoints (small, as
the default SmallCheckpointHook writes them, and full), the merge hook's
merged files (final and best), the merge tool's merged file, a converted
released checkpoint, and a ZeroI2VSwin run's small checkpoint. Entry points:
MMAction2's ``init_recognizer`` + ``inference_recognizer`` (the config as
written: MMAction2 clears its ``pretrained``), ``MMAction2Inferencer`` (a
fresh process that imports nothing but MMAction2: the config's
``custom_imports`` brings the plugin), the package's ``init_model``, the
runner's test (``tools/test.py`` / ``mim test``), ``load_from``, ``--resume``,
the merge tool and ``export_onnx.py --verify``. Each gives the scores of the
model that was trained (<= 1e-4) and, for the test, the same accuracy for
unmerged and merged files of one run.
"""
import copy
import glob
import json
import os
import os.path as osp
import subprocess

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmaction.apis import inference_recognizer, init_recognizer
from zeroi2v_mm.apis import init_model
from zeroi2v_mm.utils.checkpoint import CheckpointMismatchError
from zeroi2v_mm.utils.small_checkpoint import META_KEY, SmallCheckpointError

from helpers import (REPO, VENV_BIN, first_video, load_tool, make_tiny_videos,
                     parse_cfg_options, run_cli, tiny_demo_overrides)

CONFIG = osp.join(REPO, 'configs/demo/zeroi2v_synthetic.py')
MERGED_CONFIG = osp.join(REPO, 'configs/demo/zeroi2v_synthetic_merged.py')
TINY = dict(width=64, layers=2, heads=4, patch_size=8, image_size=32)
SWIN_ARCH = dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4])
TOLERANCE = 1e-4


def _options(data, work_dir, image_model):
    """The demo's --cfg-options at tiny scale, training on ``image_model``;
    the top-level test_pipeline (init_recognizer's) at 32 px too."""
    options = [
        o for o in tiny_demo_overrides(data, work_dir)
        if not o.startswith('model.backbone.pretrained')
    ]
    return options + [
        f'model.backbone.pretrained={image_model}',
        'test_pipeline.3.scale=(32,32)',
    ]


def _config(path, options, **changes):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(parse_cfg_options(options))
    for key, value in changes.items():
        cfg[key] = value
    return cfg


def _write_config(cfg, path):
    """``cfg`` as a file (what the inferencer and mim test read)."""
    cfg.dump(path)
    return path


def _scores(model, video):
    with torch.no_grad():
        return inference_recognizer(model, video).pred_score.float()


def _image_vit(path, seed):
    from zeroi2v_mm.models import ZeroI2VViT
    torch.manual_seed(seed)
    torch.save(
        ZeroI2VViT(arch=TINY, num_frames=8, act='gelu').state_dict(), path)
    return str(path)


def _swin_image_model(path):
    """A random mmpretrain ImageClassifier with a Swin backbone."""
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ImageClassifier
    torch.manual_seed(5)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = ImageClassifier(
            backbone=dict(
                type='SwinTransformer',
                arch=SWIN_ARCH,
                img_size=32,
                window_size=4,
                out_indices=(1, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=7, in_channels=64))
    for param in classifier.parameters():
        param.data.normal_(0, 0.05)
    torch.save(dict(state_dict=classifier.state_dict()), path)
    return str(path)


def _swin_changes(image_model):
    return dict(
        model=dict(
            type='Recognizer3D',
            backbone=dict(
                type='ZeroI2VSwin',
                arch=SWIN_ARCH,
                num_frames=8,
                img_size=32,
                window_size=4,
                pretrained=image_model,
                stdha=dict(offsets=[[(-1, 1)], [(1, 1), (-1, 1)]]),
                adapters=dict(ratio=0.25, scale=1.0)),
            cls_head=dict(
                type='ZeroI2VHead',
                num_classes=10,
                in_channels=64,
                average_clips='prob'),
            data_preprocessor=dict(
                type='ActionDataPreprocessor',
                mean=[122.769, 116.74, 104.04],
                std=[68.493, 66.63, 70.321],
                format_shape='NCTHW')))


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model.eval()
    model.cfg = cfg
    return runner, model


def _last(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as file:
        return file.read().strip()


class Artifact(dict):
    """name, path, config (what the file is tested with), train_config,
    merged, run (artifacts of one run share scores and accuracy)."""


@pytest.fixture(scope='module')
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp('artifacts')
    data = make_tiny_videos(root / 'data')
    video = first_video(
        osp.join(data, 'val_list.txt'), osp.join(data, 'videos'))
    image_model = _image_vit(root / 'image_model.pth', seed=1)
    found = {}
    reference = {}
    run_options = {}

    def add(name, path, train_cfg, merged, run):
        cfg = train_cfg
        if merged:  # the demo's merged config, same settings
            cfg = _config(
                MERGED_CONFIG, run_options[run], work_dir=train_cfg.work_dir)
        found[name] = Artifact(
            name=name,
            path=path,
            config=cfg,
            train_config=train_cfg,
            merged=merged,
            run=run)

    # Run A: small checkpoints (the default), merged by the hook at the
    # best epoch and at the end.
    work_a = str(root / 'run_small')
    run_options['small'] = _options(data, work_a, image_model)
    cfg_a = _config(CONFIG, run_options['small'], work_dir=work_a)
    cfg_a.custom_hooks = [
        dict(type='MergeAdaptersHook', verify_batches=1, merge_on_best=True)
    ]
    _, model_a = _train(cfg_a)
    reference['small'] = _scores(model_a, video)
    best_a = glob.glob(osp.join(work_a, 'best_*.pth'))
    assert len(best_a) == 1
    add('best (small)', best_a[0], cfg_a, False, 'small')
    add('epoch (small)', osp.join(work_a, 'epoch_1.pth'), cfg_a, False,
        'small')
    add('last (small)', _last(work_a), cfg_a, False, 'small')
    add('hook merged', osp.join(work_a, 'zeroi2v_synthetic_merged.pth'), cfg_a,
        True, 'small')
    hook_best = glob.glob(osp.join(work_a, '*_best*_merged.pth'))
    assert len(hook_best) == 1
    add('hook merged (best)', hook_best[0], cfg_a, True, 'small')
    tool_merged = osp.join(root, 'tool_merged.pth')
    assert load_tool('tools/merge_adapters.py').main([
        CONFIG, best_a[0], '--out', tool_merged, '--verify', '1',
        '--cfg-options', *run_options['small']
    ]) == 0
    add('tool merged', tool_merged, cfg_a, True, 'small')

    # Run B: full checkpoints.
    work_b = str(root / 'run_full')
    run_options['full'] = _options(data, work_b, image_model)
    cfg_b = _config(CONFIG, run_options['full'], work_dir=work_b)
    cfg_b.default_hooks.small_checkpoint.save_small = False
    cfg_b.custom_hooks = []
    _, model_b = _train(cfg_b)
    reference['full'] = _scores(model_b, video)
    add('best (full)',
        glob.glob(osp.join(work_b, 'best_*.pth'))[0], cfg_b, False, 'full')
    add('epoch (full)', osp.join(work_b, 'epoch_1.pth'), cfg_b, False, 'full')

    # A ZeroI2VSwin run (small checkpoints).
    work_s = str(root / 'run_swin')
    run_options['swin'] = _options(data, work_s, image_model)
    cfg_s = _config(CONFIG, run_options['swin'], work_dir=work_s)
    swin_image = _swin_image_model(root / 'swin_image_model.pth')
    cfg_s.model = _swin_changes(swin_image)['model']
    cfg_s.custom_hooks = []
    _, model_s = _train(cfg_s)
    reference['swin'] = _scores(model_s, video)
    add('swin best (small)',
        glob.glob(osp.join(work_s, 'best_*.pth'))[0], cfg_s, False, 'swin')

    # A converted released checkpoint (full, with adapters).
    from helpers.official_reference import convert_for_tiny_demo
    _, released_config, converted, _ = convert_for_tiny_demo(root)
    run_options['released'] = [
        o for o in tiny_demo_overrides(data, str(root / 'released'))
    ] + ['test_pipeline.3.scale=(32,32)']
    cfg_r = _config(
        released_config,
        run_options['released'],
        work_dir=str(root / 'released'))
    reference['released'] = _scores(
        init_model(cfg_r, converted, device='cpu'), video)
    add('converted released', converted, cfg_r, False, 'released')
    return dict(
        root=root,
        data=data,
        video=video,
        image_model=image_model,
        found=found,
        reference=reference,
        options=run_options)


NAMES = [
    'best (small)', 'epoch (small)', 'last (small)', 'hook merged',
    'hook merged (best)', 'tool merged', 'best (full)', 'epoch (full)',
    'swin best (small)', 'converted released'
]


def _check(artifacts, art, scores):
    expected = artifacts['reference'][art['run']]
    assert scores.shape == expected.shape
    assert int(scores.argmax()) == int(expected.argmax()), art['name']
    assert (scores - expected).abs().max() <= TOLERANCE, art['name']


def test_the_artifacts_are_what_they_say(artifacts):
    found = artifacts['found']
    assert sorted(found) == sorted(NAMES)
    for name in ('best (small)', 'epoch (small)', 'last (small)',
                 'swin best (small)'):
        checkpoint = torch.load(
            found[name]['path'], map_location='cpu', weights_only=False)
        assert META_KEY in checkpoint['meta'], name
    for name in ('hook merged', 'hook merged (best)', 'tool merged',
                 'best (full)', 'converted released'):
        checkpoint = torch.load(
            found[name]['path'], map_location='cpu', weights_only=False)
        assert META_KEY not in checkpoint.get('meta', {}), name
        assert 'backbone.conv1.weight' in checkpoint['state_dict'], name


@pytest.mark.parametrize('name', NAMES)
def test_init_recognizer(artifacts, name):
    """MMAction2's own API, the config as written (its pretrained cleared by
    MMAction2), no extra settings."""
    art = artifacts['found'][name]
    model = init_recognizer(
        copy.deepcopy(art['config']), art['path'], device='cpu')
    _check(artifacts, art, _scores(model, artifacts['video']))


@pytest.mark.parametrize('name', NAMES)
def test_init_model_with_the_training_config(artifacts, name):
    art = artifacts['found'][name]
    model = init_model(art['train_config'], art['path'], device='cpu')
    assert ('adapters' not in str(
        model.cfg.model.backbone.get('adapters'))) or not art['merged']
    _check(artifacts, art, _scores(model, artifacts['video']))


INFERENCER = r"""
import json, sys
from mmaction.apis.inferencers import MMAction2Inferencer
jobs, video = json.loads(sys.argv[1]), sys.argv[2]
out = {}
for name, config, checkpoint in jobs:
    inferencer = MMAction2Inferencer(
        rec=config, rec_weights=checkpoint, device='cpu')
    result = inferencer(video, return_vis=False)
    out[name] = result['predictions'][0]['rec_scores'][0]
print('SCORES ' + json.dumps(out))
"""


@pytest.fixture(scope='module')
def inferencer_scores(artifacts):
    """MMAction2Inferencer in a fresh process that imports MMAction2 only
    (the config's custom_imports brings zeroi2v_mm); full checkpoints
    first, so the first file it reads is an MMEngine checkpoint read before
    any model is built."""
    jobs = []
    order = sorted(NAMES, key=lambda n: 'full' not in n)
    for name in order:
        art = artifacts['found'][name]
        config = _write_config(
            art['config'],
            str(artifacts['root'] / f'inferencer_{len(jobs)}.py'))
        jobs.append((name, config, art['path']))
    result = subprocess.run([
        osp.join(VENV_BIN, 'python'), '-c', INFERENCER,
        json.dumps(jobs), artifacts['video']
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    line = [x for x in result.stdout.splitlines() if x.startswith('SCORES ')]
    return {
        name: torch.tensor(scores)
        for name, scores in json.loads(line[-1][len('SCORES '):]).items()
    }


@pytest.mark.parametrize('name', NAMES)
def test_mmaction2_inferencer(artifacts, inferencer_scores, name):
    art = artifacts['found'][name]
    _check(artifacts, art, inferencer_scores[name])


def _test_accuracy(artifacts, art, tag):
    cfg = copy.deepcopy(art['config'])
    cfg.work_dir = str(artifacts['root'] / f'test_{tag}')
    cfg.load_from = art['path']
    return Runner.from_cfg(cfg).test()['acc/top1']


@pytest.fixture(scope='module')
def accuracies(artifacts):
    """tools/test.py / mim test run Runner.test with load_from."""
    return {
        name: _test_accuracy(artifacts, artifacts['found'][name], index)
        for index, name in enumerate(NAMES)
    }


@pytest.mark.parametrize('run', ['small', 'full', 'released', 'swin'])
def test_runner_test_same_accuracy_for_every_file_of_a_run(
        artifacts, accuracies, run):
    """Unmerged and merged, small and full: one run, one accuracy; and it
    is the accuracy of the scores the model gives (checked on the first
    video's prediction above)."""
    values = {
        name: accuracies[name]
        for name in NAMES if artifacts['found'][name]['run'] == run
    }
    assert len(set(values.values())) == 1, values


def _mim_test(artifacts, config_cfg, checkpoint, tag, *options):
    config = _write_config(config_cfg,
                           str(artifacts['root'] / f'mim_{tag}.py'))
    log = run_cli([
        'mim', 'test', 'mmaction', config, '--checkpoint', checkpoint,
        '--work-dir',
        str(artifacts['root'] / f'mim_{tag}'), *options
    ])
    line = [x for x in log.splitlines() if 'acc/top1:' in x][-1]
    return float(line.split('acc/top1:')[1].split()[0])


def test_mim_test_of_small_and_merged_files(artifacts, accuracies):
    found = artifacts['found']
    small = _mim_test(artifacts, found['best (small)']['config'],
                      found['best (small)']['path'], 'small')
    merged = _mim_test(artifacts, found['tool merged']['config'],
                       found['tool merged']['path'], 'merged')
    assert small == merged == pytest.approx(accuracies['best (small)'])


def test_tool_merged_file_with_the_image_model_set_keeps_its_accuracy(
        artifacts, accuracies):
    """The regression of the merge tool's file: it kept the small
    checkpoint's frozen-weights record, mim test refused it, and setting
    model.backbone.pretrained as the refusal said overwrote the merged
    weights with the image model's (acc 0.19 instead of 0.865 on the
    demo). Now the file is self-contained: the same accuracy either way."""
    found = artifacts['found']
    merged = found['tool merged']
    image_model = artifacts['image_model']
    accuracy = _mim_test(artifacts, merged['config'], merged['path'],
                         'merged_with_pretrained', '--cfg-options',
                         f'model.backbone.pretrained={image_model}')
    assert accuracy == pytest.approx(accuracies['best (small)'])
    assert accuracy == pytest.approx(accuracies['tool merged'])


@pytest.mark.parametrize('name', [
    n for n in NAMES
    if n not in ('hook merged', 'hook merged (best)', 'tool merged')
])
def test_merge_tool(artifacts, name, tmp_path):
    art = artifacts['found'][name]
    out = str(tmp_path / 'merged.pth')
    config = art['train_config']
    config_file = _write_config(config, str(tmp_path / 'config.py'))
    assert load_tool('tools/merge_adapters.py').main(
        [config_file, art['path'], '--out', out, '--verify', '1']) == 0
    model = init_model(config, out, device='cpu')
    _check(artifacts, art, _scores(model, artifacts['video']))


@pytest.mark.parametrize('name', NAMES)
def test_export_onnx_verify(artifacts, name, tmp_path):
    """tools/deployment/export_onnx.py --verify, then onnxruntime on the
    video's test-pipeline clip gives the model's scores."""
    import onnxruntime

    from zeroi2v_mm.deployment.export import decode_video
    art = artifacts['found'][name]
    config = _write_config(art['train_config'], str(tmp_path / 'config.py'))
    out = str(tmp_path / 'model.onnx')
    tool = load_tool('tools/deployment/export_onnx.py')
    assert tool.main([config, art['path'], '--out', out,
                      '--verify']) in (0, None)
    clips = decode_video(art['train_config'], artifacts['video'])
    session = onnxruntime.InferenceSession(
        out, providers=['CPUExecutionProvider'])
    logits = session.run(
        None,
        {session.get_inputs()[0].name: clips.numpy().astype(np.float32)})[0]
    scores = torch.from_numpy(logits).softmax(-1).mean(0)
    _check(artifacts, art, scores)


@pytest.mark.parametrize('name', NAMES)
def test_load_from(artifacts, name):
    """Fine-tuning from the file starts from its weights (load_from)."""
    art = artifacts['found'][name]
    cfg = copy.deepcopy(art['config'])
    cfg.work_dir = str(artifacts['root'] / f'load_from_{NAMES.index(name)}')
    cfg.load_from = art['path']
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    model = runner.model.eval()
    model.cfg = cfg
    _check(artifacts, art, _scores(model, artifacts['video']))


@pytest.mark.parametrize(
    'name',
    ['best (small)', 'epoch (full)', 'swin best (small)', 'tool merged'])
def test_resume(artifacts, name):
    """--resume from a training checkpoint continues at its epoch; from a
    merged file (its adapters folded in) it is refused, saying why."""
    art = artifacts['found'][name]
    cfg = copy.deepcopy(art['train_config'])
    cfg.work_dir = str(artifacts['root'] / f'resume_{NAMES.index(name)}')
    cfg.load_from = art['path']
    cfg.resume = True
    cfg.train_cfg.max_epochs = 2
    cfg.custom_hooks = []
    # Another run's best checkpoint is not this run's to replace.
    cfg.default_hooks.checkpoint.save_best = None
    runner = Runner.from_cfg(cfg)
    if art['merged']:
        with pytest.raises(ValueError, match='merged model.*Resuming'):
            runner.train()
        return
    runner.train()
    assert runner.epoch == 2
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_2.pth'))


# ------------------------------------------------------------- refusals
def _rewrite(path, out, change):
    checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    change(checkpoint)
    torch.save(checkpoint, out)
    return str(out)


def test_merged_file_with_a_frozen_record_that_does_not_match_is_refused(
        artifacts, tmp_path):
    """A merged file carrying a small checkpoint's record (as the merge tool
    wrote them before): its tensors are not the recorded frozen weights, so
    it is refused by every loader, whatever the config says; never
    loaded with image weights over the merged ones."""
    found = artifacts['found']
    small = torch.load(
        found['best (small)']['path'], map_location='cpu', weights_only=False)

    def stale(checkpoint):
        checkpoint['meta'][META_KEY] = small['meta'][META_KEY]

    path = _rewrite(found['tool merged']['path'], tmp_path / 'stale.pth',
                    stale)
    merged_cfg = copy.deepcopy(found['tool merged']['config'])
    merged_cfg.model.backbone.pretrained = artifacts['image_model']
    with pytest.raises(SmallCheckpointError, match='records the fingerprint'):
        init_model(merged_cfg, path, device='cpu')
    cfg = copy.deepcopy(merged_cfg)
    cfg.work_dir = str(tmp_path / 'w')
    cfg.load_from = path
    with pytest.raises(SmallCheckpointError, match='records the fingerprint'):
        Runner.from_cfg(cfg).test()


def test_small_checkpoint_whose_image_model_changed_is_refused(
        artifacts, tmp_path):
    """The recorded image model was replaced by other weights: refused by
    MMAction2's init_recognizer, naming the checkpoint and the file."""
    found = artifacts['found']
    changed = _image_vit(tmp_path / 'changed.pth', seed=7)

    def elsewhere(checkpoint):
        entry = checkpoint['meta'][META_KEY]['backbone.']
        marker = checkpoint['state_dict']._metadata['backbone']
        for record in (entry, marker['frozen_fingerprint']):
            record.update(pretrained=changed, pretrained_abs=changed)

    path = _rewrite(found['best (small)']['path'], tmp_path / 'small.pth',
                    elsewhere)
    with pytest.raises(SmallCheckpointError) as error:
        init_recognizer(
            copy.deepcopy(found['best (small)']['config']), path, device='cpu')
    assert path in str(error.value) and changed in str(error.value)
    assert 'other weights' in str(error.value)
    # and when it is gone, the message names the file it needs
    os.remove(changed)
    with pytest.raises(
            SmallCheckpointError, match=f'Put that image model at {changed}'):
        init_recognizer(
            copy.deepcopy(found['best (small)']['config']), path, device='cpu')


def test_a_checkpoint_of_another_model_is_refused(artifacts):
    found = artifacts['found']
    with pytest.raises((CheckpointMismatchError, ValueError)):
        init_model(
            found['best (small)']['train_config'],
            found['swin best (small)']['path'],
            device='cpu')
