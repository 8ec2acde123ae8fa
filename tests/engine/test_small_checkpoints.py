"""Small checkpoints (SmallCheckpointHook): the trained parameters plus a
fingerprint of the frozen image model. Train 1 epoch on a tiny config,
then resume, load_from, test, merge and export from the small checkpoint:
the same results as from the full checkpoint of the same weights; a wrong,
missing or unset frozen base is refused naming the files."""
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint
from mmengine.runner.checkpoint import weights_to_cpu

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.utils.checkpoint import CheckpointMismatchError
from zeroi2v_mm.utils.small_checkpoint import (META_KEY, METADATA_KEY,
                                               SmallCheckpointError,
                                               fingerprint)

from helpers import (REPO, load_tool, make_tiny_videos, parse_cfg_options,
                     tiny_demo_overrides, tiny_uniformerv2)

CONFIG = 'configs/demo/zeroi2v_synthetic.py'
TINY = dict(width=64, layers=2, heads=4, patch_size=8, image_size=32)


def _cfg(data_dir, work_dir, pretrained, epochs=1, **options):
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.merge_from_dict(
        parse_cfg_options(tiny_demo_overrides(data_dir, work_dir, epochs)))
    cfg.model.backbone.pretrained = pretrained
    cfg.work_dir = work_dir
    cfg.custom_hooks = []  # merging is tested below, from the checkpoints
    cfg.default_hooks.logger.interval = 1
    for key, value in options.items():
        cfg[key] = value
    return cfg


def _image_model(path, seed):
    """A random 'image model' (the frozen base), as a backbone state dict."""
    torch.manual_seed(seed)
    model = ZeroI2VViT(arch=TINY, num_frames=8, act='gelu')
    torch.save(model.state_dict(), path)
    return str(path)


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """1 epoch with small checkpoints; the same weights saved full too."""
    root = tmp_path_factory.mktemp('small_ckpt')
    data = make_tiny_videos(root / 'data')
    pretrained = _image_model(root / 'image_model.pth', seed=1)
    work_dir = str(root / 'work')
    runner = Runner.from_cfg(_cfg(data, work_dir, pretrained))
    runner.train()
    small = osp.join(work_dir, 'epoch_1.pth')
    # The same checkpoint (optimizer, schedulers, epoch), full: the trained
    # model's whole state dict, as saving without the hook writes it.
    checkpoint = _state(small)
    del checkpoint['meta'][META_KEY]
    checkpoint['state_dict'] = weights_to_cpu(runner.model.state_dict())
    torch.save(checkpoint, osp.join(work_dir, 'full_epoch_1.pth'))
    return dict(
        root=root,
        data=data,
        pretrained=pretrained,
        work_dir=work_dir,
        small=small,
        full=osp.join(work_dir, 'full_epoch_1.pth'))


def test_small_checkpoint_holds_trained_params_and_fingerprint(trained):
    small, full = _state(trained['small']), _state(trained['full'])
    entry = small['meta'][META_KEY]['backbone.']
    assert META_KEY not in full['meta']
    backbone = ZeroI2VViT(
        arch=TINY,
        num_frames=8,
        act='gelu',
        adapters=dict(num_adapters=4),
        stdha=dict(offsets=[(-1, 2), (1, 2)]))
    frozen = {n for n, p in backbone.named_parameters() if not p.requires_grad}
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert set(entry['keys']) == frozen
    kept = {k for k in small['state_dict'] if k.startswith('backbone.')}
    assert kept == {'backbone.' + n for n in trainable}
    assert 'cls_head.fc_cls.weight' in small['state_dict']
    assert entry['fingerprint'] == fingerprint(
        {k: full['state_dict']['backbone.' + k]
         for k in entry['keys']})
    assert entry['pretrained'] == trained['pretrained']
    # Optimizer, schedulers, message hub: as in the full checkpoint.
    assert small['optimizer'].keys() == full['optimizer'].keys()
    assert small['meta']['epoch'] == full['meta']['epoch'] == 1
    size_small = osp.getsize(trained['small'])
    size_full = osp.getsize(trained['full'])
    print(f'\nsmall checkpoint {size_small / 1e3:.1f} kB, full '
          f'{size_full / 1e3:.1f} kB: ratio {size_small / size_full:.3f}')
    assert size_small < 0.6 * size_full


def _test_metrics(trained, checkpoint, name, **cfg_options):
    cfg = _cfg(
        trained['data'],
        str(trained['root'] / name),
        trained['pretrained'],
        load_from=checkpoint,
        **cfg_options)
    return Runner.from_cfg(cfg).test()


def test_test_from_small_equals_full(trained):
    """tools/test.py and mim test run Runner.test with load_from."""
    small = _test_metrics(trained, trained['small'], 'test_small')
    full = _test_metrics(trained, trained['full'], 'test_full')
    assert small == full
    assert set(small) >= {'acc/top1'}


def test_full_checkpoint_needs_no_image_model(trained, tmp_path):
    """Full checkpoints keep working as before: no pretrained file read."""
    cfg = _cfg(
        trained['data'],
        str(tmp_path / 'w'),
        str(tmp_path / 'absent.pth'),
        load_from=trained['full'])
    assert Runner.from_cfg(cfg).test() == _test_metrics(
        trained, trained['full'], 'test_full2')


def _final_state(work_dir, epoch):
    return _state(osp.join(work_dir, f'epoch_{epoch}.pth'))


def test_resume_from_small_equals_resume_from_full(trained):
    results = {}
    for kind in ('small', 'full'):
        work_dir = str(trained['root'] / f'resume_{kind}')
        cfg = _cfg(
            trained['data'],
            work_dir,
            trained['pretrained'],
            epochs=2,
            resume=True,
            load_from=trained[kind])
        cfg.default_hooks.small_checkpoint.save_small = False
        Runner.from_cfg(cfg).train()
        results[kind] = _final_state(work_dir, 2)
    assert results['small']['meta']['epoch'] == 2
    for key, value in results['full']['state_dict'].items():
        assert torch.equal(results['small']['state_dict'][key], value), key


def test_load_from_small_starts_training_from_it(trained):
    work_dir = str(trained['root'] / 'load_from')
    cfg = _cfg(
        trained['data'],
        work_dir,
        trained['pretrained'],
        load_from=trained['small'])
    runner = Runner.from_cfg(cfg)
    runner.train()
    # 1 more epoch from the loaded weights: the frozen ones are the image
    # model's, the checkpoint written is small again.
    saved = _state(osp.join(work_dir, 'epoch_1.pth'))
    assert META_KEY in saved['meta']
    full = _state(trained['full'])['state_dict']
    own = runner.model.state_dict()
    for key in saved['meta'][META_KEY]['backbone.']['keys']:
        assert torch.equal(own['backbone.' + key], full['backbone.' + key])


def test_merge_tool_from_small_equals_full(trained, tmp_path):
    tool = load_tool('tools/merge_adapters.py')
    options = tiny_demo_overrides(trained['data'], str(tmp_path))
    options = [
        o for o in options if not o.startswith('model.backbone.pretrained')
    ]
    options.append(f'model.backbone.pretrained={trained["pretrained"]}')
    merged = {}
    for kind in ('small', 'full'):
        out = str(tmp_path / f'{kind}_merged.pth')
        assert tool.main([
            CONFIG, trained[kind], '--out', out, '--verify', '1',
            '--cfg-options', *options
        ]) == 0
        merged[kind] = _state(out)['state_dict']
    assert merged['small'].keys() == merged['full'].keys()
    for key, value in merged['full'].items():
        assert torch.equal(merged['small'][key], value), key


def test_export_loader_from_small_equals_full(trained):
    from zeroi2v_mm.deployment.export import load_deployable_model
    cfg = _cfg(trained['data'], str(trained['root'] / 'export'),
               trained['pretrained'])
    clips = torch.randn(2, 3, 8, 32, 32)
    outputs = {}
    for kind in ('small', 'full'):
        model, _, info = load_deployable_model(cfg, trained[kind])
        assert info['merged_here']
        with torch.no_grad():
            outputs[kind] = model.backbone(clips)
    assert torch.equal(outputs['small'], outputs['full'])


def _recording(trained, tmp_path, image_model):
    """A copy of the small checkpoint whose records name ``image_model``."""
    checkpoint = _state(trained['small'])
    entry = checkpoint['meta'][META_KEY]['backbone.']
    entry.update(pretrained=image_model, pretrained_abs=image_model)
    marker = checkpoint['state_dict']._metadata['backbone'][METADATA_KEY]
    marker.update(pretrained=image_model, pretrained_abs=image_model)
    path = str(tmp_path / 'small_elsewhere.pth')
    torch.save(checkpoint, path)
    return path


def test_changed_image_model_is_refused_naming_the_files(trained, tmp_path):
    """The recorded image model now holds other weights, and so does the
    config's: refused, naming the checkpoint and both files."""
    other = _image_model(tmp_path / 'other_image_model.pth', seed=2)
    changed = _image_model(tmp_path / 'changed_image_model.pth', seed=3)
    small = _recording(trained, tmp_path, changed)
    cfg = _cfg(trained['data'], str(tmp_path / 'w'), other, load_from=small)
    with pytest.raises(SmallCheckpointError) as error:
        Runner.from_cfg(cfg).test()
    message = str(error.value)
    assert 'no file with those weights' in message
    assert other in message and small in message and changed in message
    assert 'other weights' in message
    # The merge tool refuses too, writing nothing.
    tool = load_tool('tools/merge_adapters.py')
    options = [
        o for o in tiny_demo_overrides(trained['data'], str(tmp_path))
        if not o.startswith('model.backbone.pretrained')
    ]
    out = str(tmp_path / 'merged.pth')
    with pytest.raises(SystemExit, match='no file with those weights'):
        tool.main([
            CONFIG, small, '--out', out, '--verify', '0', '--cfg-options',
            *options, f'model.backbone.pretrained={other}'
        ])
    assert not osp.exists(out)


def test_config_pretrained_with_the_same_weights_is_used(trained, tmp_path):
    """The recorded file is gone; the config's pretrained holds the same
    weights (a copy elsewhere): it completes the checkpoint."""
    small = _recording(trained, tmp_path, str(tmp_path / 'gone.pth'))
    copy = str(tmp_path / 'copy_of_image_model.pth')
    shutil.copy(trained['pretrained'], copy)
    assert _test_metrics(trained, small,
                         'copy_test') == _test_metrics(trained,
                                                       trained['full'],
                                                       'copy_full')
    cfg = _cfg(trained['data'], str(tmp_path / 'w'), copy, load_from=small)
    assert Runner.from_cfg(cfg).test() == _test_metrics(
        trained, trained['full'], 'copy_full2')


def test_small_checkpoint_without_its_image_model_is_a_clear_error(
        trained, tmp_path):
    gone = str(tmp_path / 'gone.pth')
    small = _recording(trained, tmp_path, gone)
    for pretrained in (str(tmp_path / 'absent.pth'), None):
        cfg = _cfg(
            trained['data'], str(tmp_path / 'w'), pretrained, load_from=small)
        with pytest.raises(SmallCheckpointError) as error:
            Runner.from_cfg(cfg).test()
        message = str(error.value)
        assert 'small checkpoint' in message and small in message
        assert f'{gone} (recorded: not found)' in message
        assert f'Put that image model at {gone}' in message


def test_mmengine_loader_completes_the_small_checkpoint(trained):
    """MMEngine's load_checkpoint, as MMAction2's init_recognizer calls it on
    a model whose pretrained it cleared: the backbone restores its frozen
    weights from the recorded file; the model equals the full checkpoint."""
    cfg = _cfg(trained['data'], str(trained['root'] / 'x'), None)
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    load_checkpoint(model, trained['small'], map_location='cpu', strict=True)
    full = _state(trained['full'])['state_dict']
    for key, value in model.state_dict().items():
        assert torch.equal(value, full[key]), key


def test_truncated_full_checkpoint_is_still_refused(trained, tmp_path):
    checkpoint = _state(trained['full'])
    del checkpoint['state_dict']['backbone.conv1.weight']
    path = str(tmp_path / 'truncated.pth')
    torch.save(checkpoint, path)
    cfg = _cfg(
        trained['data'],
        str(tmp_path / 'w'),
        trained['pretrained'],
        load_from=path)
    with pytest.raises(
            CheckpointMismatchError, match='lacks 1 of the .*conv1.weight'):
        Runner.from_cfg(cfg).test()


def test_frozen_weights_other_than_the_file_save_full(trained, tmp_path,
                                                      caplog):
    """Starting from a full checkpoint trained on another image model: the
    frozen weights are not the pretrained file's, so checkpoints stay full
    (a small one could not be completed from that file)."""
    other_full = _state(trained['full'])
    other_full['state_dict']['backbone.conv1.weight'] += 1
    path = str(tmp_path / 'other_full.pth')
    torch.save(other_full, path)
    work_dir = str(tmp_path / 'w')
    cfg = _cfg(
        trained['data'], work_dir, trained['pretrained'], load_from=path)
    Runner.from_cfg(cfg).train()
    saved = _state(osp.join(work_dir, 'epoch_1.pth'))
    assert META_KEY not in saved['meta']
    assert 'backbone.conv1.weight' in saved['state_dict']
    shutil.rmtree(work_dir)


def test_checkpoint_size_tool_on_the_demo_config():
    """tools/analysis/checkpoint_size.py (the README's ViT-B K400 figures)
    on the demo config: the small checkpoint round-trips and is smaller."""
    tool = load_tool('tools/analysis/checkpoint_size.py')
    sizes = tool.measure(osp.join(REPO, CONFIG))
    assert sizes['small_without_optimizer'] < sizes['small'] < sizes['full']
    # at least the trained parameters and their two AdamW moments
    assert sizes['small'] > sizes['trained'] * 12
    print(f"\ndemo config: full {sizes['full'] / 1e6:.2f} MB, small "
          f"{sizes['small'] / 1e6:.2f} MB")


def test_inti_temp_backbone_writes_and_completes_small_checkpoints(tmp_path):
    """UniFormerV2InTI (InTI^temp) with part of it frozen: the hook leaves
    the frozen tensors out, MMEngine's loader (init_recognizer's) puts them
    back from the recorded file, strictly; a full fine-tuning run (nothing
    frozen, the paper's recipe) writes full checkpoints."""
    from types import SimpleNamespace

    from mmengine.logging import MMLogger
    from mmengine.runner.checkpoint import save_checkpoint
    from torch import nn

    from mmaction.registry import MODELS
    from zeroi2v_mm.engine import SmallCheckpointHook
    from zeroi2v_mm.utils.small_checkpoint import make_small

    tiny = tiny_uniformerv2(
        return_list=(0, 1), compress=dict(type='InTI', after_blocks=(1, )))
    torch.manual_seed(0)
    image = MODELS.build(dict(tiny))
    for param in image.parameters():
        param.data.normal_(0, 0.05)
    image_path = str(tmp_path / 'image.pth')
    torch.save(
        dict(state_dict={
            'backbone.' + k: v
            for k, v in image.state_dict().items()
        }), image_path)

    def build():
        model = nn.Module()
        model.backbone = MODELS.build(dict(tiny, pretrained=image_path))
        model.backbone.init_weights()
        return model

    logger = MMLogger.get_instance('inti_small')
    hook = SmallCheckpointHook()
    model = build()
    assert hook._check(SimpleNamespace(model=model, logger=logger)) == {}
    model.backbone.conv1.requires_grad_(False)
    model.backbone.transformer.resblocks[0].requires_grad_(False)
    entries = hook._check(SimpleNamespace(model=model, logger=logger))
    assert set(entries['backbone.']['keys']) == {
        n
        for n, p in model.backbone.named_parameters() if not p.requires_grad
    }
    for param in model.parameters():  # "training" changes what trains
        if param.requires_grad:
            param.data.add_(0.5)
    checkpoint = dict(meta={}, state_dict=model.state_dict())
    assert make_small(checkpoint, entries) == len(entries['backbone.']['keys'])
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(checkpoint, path)
    fresh = nn.Module()
    fresh.backbone = MODELS.build(dict(tiny))  # pretrained cleared
    load_checkpoint(fresh, path, map_location='cpu', strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
