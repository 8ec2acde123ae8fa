"""MergeAdaptersHook: the merge after `mim train` is verified and written,
reproduced by `mim test` of the merged checkpoint, matched offline by
tools/merge_adapters.py on the same run, refused when wrong (and then
nothing is written), and agreed on by every rank under DDP. That the merge
itself is exact for every backbone option: tests/reparam/test_merge_exact.py.
"""
import json
import os
import os.path as osp
import pickle
import re

import pytest
import torch
from mmengine.config import Config

from mmaction.registry import MODELS
from zeroi2v_mm.engine import MergeAdaptersHook
from zeroi2v_mm.reparam import MergeVerificationError, folding, merged_output
from zeroi2v_mm.utils.io import atomic_write_json

from helpers import (REPO, TINY_ARCH, load_tool, parse_cfg_options,
                     randomize_adapters, run_cli, tiny_demo_overrides)

CONFIG = 'configs/demo/zeroi2v_synthetic.py'
MERGED_CONFIG = 'configs/demo/zeroi2v_synthetic_merged.py'
STEM = 'zeroi2v_synthetic'  # the hook names its files after the config


# ------------------------------------------- end to end: mim train / test
def _options(data_dir, work_dir, epochs=1):
    return tiny_demo_overrides(data_dir, work_dir, epochs=epochs)


@pytest.fixture(scope='module')
def trained(tiny_data, tmp_path_factory):
    """One `mim train` of the demo config (1 epoch, merge on best too)."""
    work_dir = str(tmp_path_factory.mktemp('merge_work'))
    options = _options(tiny_data, work_dir)
    log = run_cli([
        'mim', 'train', 'mmaction', CONFIG, '--work-dir', work_dir,
        '--cfg-options', *options, 'custom_hooks.0.merge_on_best=True'
    ])
    assert 'Training finished successfully' in log
    return dict(
        work_dir=work_dir,
        options=options,
        log=log,
        checkpoint=osp.join(work_dir, 'epoch_1.pth'),
        merged=osp.join(work_dir, f'{STEM}_merged.pth'),
        report=osp.join(work_dir, f'{STEM}_merged.json'))


def _tiny_cfg(config, options):
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.merge_from_dict(parse_cfg_options(options))
    return cfg


@pytest.mark.slow
def test_hook_writes_verified_merged_checkpoint_and_report(trained):
    report = json.load(open(trained['report']))
    assert report['passed'] and report['checkpoint'] == trained['merged']
    assert report['data'] == 'val_dataloader' and report['num_samples'] > 0
    assert report['max_abs_diff'] <= 1e-5
    assert report['top1_agreement'] == 1.0
    params = report['params']
    assert params['after'] == params['plain'] < params['before']
    assert params['backbone_after'] == params['plain_backbone']
    assert params['image_vit'] + params['temporal_embedding'] == \
        params['plain_backbone']
    flops = report['gflops_per_view']
    assert flops['after'] < flops['before']
    assert flops['input_shape'] == [3, 8, 32, 32]
    # the table went to the log; merge_on_best wrote the best one as well
    assert 'top-1 agreement 1.0000' in trained['log']
    assert osp.isfile(osp.join(trained['work_dir'], f'{STEM}_best_merged.pth'))
    best = json.load(
        open(osp.join(trained['work_dir'], f'{STEM}_best_merged.json')))
    assert best['source'].endswith('best_acc_top1_epoch_1.pth')
    # no temporary files left behind
    assert not [
        f for f in os.listdir(trained['work_dir']) if f.startswith('.')
    ]

    # loads strictly (torch) into the same config with adapters=None
    checkpoint = torch.load(trained['merged'], weights_only=False)
    assert checkpoint['meta']['merged_adapters'] is True
    cfg = _tiny_cfg(MERGED_CONFIG, trained['options'])
    assert cfg.model.backbone.adapters is None and cfg.custom_hooks == []
    plain = MODELS.build(cfg.model)
    plain.load_state_dict(checkpoint['state_dict'], strict=True)


def _dumped(path):
    with open(path, 'rb') as file:
        results = pickle.load(file)
    scores = torch.stack([torch.as_tensor(r['pred_score']) for r in results])
    labels = [int(r['pred_label']) for r in results]
    return scores, labels


def _test_top1(log):
    found = re.findall(r'Epoch\(test\).*?acc/top1: ([0-9.]+)', log)
    assert found, 'no test accuracy in the log'
    return float(found[-1])


@pytest.mark.slow
def test_mim_test_of_merged_checkpoint_reproduces_unmerged(trained, tmp_path):
    options = trained['options']
    unmerged_log = run_cli([
        'mim', 'test', 'mmaction', CONFIG, '--checkpoint',
        trained['checkpoint'], '--work-dir',
        str(tmp_path / 'a'), '--dump',
        str(tmp_path / 'unmerged.pkl'), '--cfg-options', *options
    ])
    merged_log = run_cli([
        'mim', 'test', 'mmaction', MERGED_CONFIG, '--checkpoint',
        trained['merged'], '--work-dir',
        str(tmp_path / 'b'), '--dump',
        str(tmp_path / 'merged.pkl'), '--cfg-options', *options
    ])
    assert _test_top1(merged_log) == _test_top1(unmerged_log)
    unmerged_scores, unmerged_labels = _dumped(tmp_path / 'unmerged.pkl')
    merged_scores, merged_labels = _dumped(tmp_path / 'merged.pkl')
    assert merged_labels == unmerged_labels
    assert torch.allclose(merged_scores, unmerged_scores, atol=1e-5)
    # the adapter checkpoint has gone through a real, non-trivial training
    assert 'do not match' not in merged_log


# ------------------------------------------- loading the wrong checkpoint
@pytest.mark.slow
def test_wrong_checkpoint_for_the_config_says_what_to_do(trained):
    """MMEngine's loader (load_from, mim test) only warns about unexpected or
    missing keys; these two mistakes must stop with instructions."""
    from mmengine.runner.checkpoint import load_checkpoint
    plain = MODELS.build(_tiny_cfg(MERGED_CONFIG, trained['options']).model)
    with pytest.raises(
            ValueError,
            match=r'unmerged linear adapter.*'
            r'tools/merge_adapters.py'):
        load_checkpoint(plain, trained['checkpoint'], map_location='cpu')
    adapted = MODELS.build(_tiny_cfg(CONFIG, trained['options']).model)
    with pytest.raises(
            ValueError,
            match=r'merged model.*_merged.py.*'
            r'model.backbone.adapters=None'):
        load_checkpoint(adapted, trained['merged'], map_location='cpu')
    # Starting a new run from merged weights with fresh adapters (the
    # backbone's own `pretrained`) is not a mistake and still works.
    backbone_cfg = _tiny_cfg(CONFIG, trained['options']).model.backbone
    backbone = MODELS.build(dict(backbone_cfg, pretrained=trained['merged']))
    backbone.init_weights()
    merged_state = torch.load(
        trained['merged'], weights_only=False)['state_dict']
    assert torch.equal(backbone.conv1.weight,
                       merged_state['backbone.conv1.weight'])


# --------------------------------------------------- tools/merge_adapters
def _record_writes(monkeypatch):
    """The paths written through the one merged-output writer."""
    written = []
    real = merged_output.atomic_write_all

    def recording(items):
        written.append([osp.basename(path) for path, _ in items])
        return real(items)

    monkeypatch.setattr(merged_output, 'atomic_write_all', recording)
    return written


@pytest.mark.slow
def test_merge_tool_matches_the_hook_and_never_overwrites(
        trained, tmp_path, capsys, monkeypatch):
    tool = load_tool('tools/merge_adapters.py')
    out = str(tmp_path / 'offline.pth')
    args = [
        CONFIG, trained['checkpoint'], '--out', out, '--verify', '1',
        '--device', 'cpu', '--cfg-options', *trained['options']
    ]
    written = _record_writes(monkeypatch)
    assert tool.main(args) == 0
    assert written == [['offline.pth', 'offline.json']]  # the shared writer
    printed = capsys.readouterr().out
    assert 'top-1 agreement 1.0000' in printed and 'GFLOPs' in printed
    report = json.load(open(str(tmp_path / 'offline.json')))
    assert report['passed'] and report['num_samples'] == 4
    offline = torch.load(out, weights_only=False)['state_dict']
    by_hook = torch.load(trained['merged'], weights_only=False)['state_dict']
    assert offline.keys() == by_hook.keys()
    assert all(
        torch.allclose(offline[k], by_hook[k], atol=1e-6) for k in offline)
    # the same merged config and merge meta as the hook's
    offline_meta = torch.load(out, weights_only=False)['meta']
    hook_meta = torch.load(trained['merged'], weights_only=False)['meta']
    for meta in (offline_meta, hook_meta):
        assert meta['merged_adapters'] is True
        assert 'adapters=None' in meta['cfg'].replace(' ', '')
        assert "type='MergeAdaptersHook'" not in meta['cfg']
    assert offline_meta['merge_report'].keys() == \
        hook_meta['merge_report'].keys()

    stamp = os.stat(out).st_mtime_ns
    with pytest.raises(SystemExit, match='exists; pass --force'):
        tool.main(args)
    assert os.stat(out).st_mtime_ns == stamp
    assert tool.main(args + ['--force']) == 0

    # merging a merged checkpoint, or with the merged config, is refused
    with pytest.raises(SystemExit, match='no linear adapters'):
        tool.main([
            CONFIG, out, '--out',
            str(tmp_path / 'x.pth'), '--verify', '0', '--cfg-options',
            *trained['options']
        ])
    with pytest.raises(SystemExit, match='adapters=None'):
        tool.main([
            MERGED_CONFIG, trained['checkpoint'], '--out',
            str(tmp_path / 'x.pth'), '--cfg-options', *trained['options']
        ])
    assert not osp.exists(tmp_path / 'x.pth')


@pytest.mark.slow
def test_merge_tool_without_data_names_it_and_suggests_verify_0(
        trained, tmp_path):
    tool = load_tool('tools/merge_adapters.py')
    missing = str(tmp_path / 'no_such_data')
    options = trained['options'] + [
        f'val_dataloader.dataset.ann_file={missing}/val_list.txt'
    ]
    out = str(tmp_path / 'merged.pth')
    with pytest.raises(
            SystemExit, match=r'(?s)no_such_data/val_list.txt.*'
            r'--verify 0'):
        tool.main([
            CONFIG, trained['checkpoint'], '--out', out, '--cfg-options',
            *options
        ])
    assert not osp.exists(out)
    assert tool.main([
        CONFIG, trained['checkpoint'], '--out', out, '--verify', '0',
        '--cfg-options', *options
    ]) == 0
    assert json.load(open(str(tmp_path / 'merged.json')))['passed'] is None


# ----------------------------------------------- refusing a wrong merge
@pytest.fixture
def tiny_runner(tiny_data, tmp_path):
    from mmengine.runner import Runner
    work_dir = str(tmp_path / 'work')
    cfg = _tiny_cfg(CONFIG, _options(tiny_data, work_dir))
    cfg.work_dir = work_dir
    runner = Runner.from_cfg(cfg)
    randomize_adapters(runner.model)  # a merge with real work to do
    with torch.no_grad():  # logits of a trained size, not of init_std=0.01
        runner.model.cls_head.fc_cls.weight.normal_(std=1.0)
    return runner


def test_corrupted_merge_is_refused_and_writes_nothing(tiny_runner,
                                                       monkeypatch):
    real_merge = folding.merge_adapters

    def corrupted_merge(model):  # test-only: a folding bug in one weight
        real_merge(model)
        weight = model.backbone.transformer.resblocks[0].mlp.c_fc.weight
        with torch.no_grad():
            # random, not constant: a constant shift of every row is
            # invisible after the LayerNorm that feeds this layer
            weight.add_(
                torch.randn(
                    weight.shape, generator=torch.Generator().manual_seed(0)) *
                0.05)
        return model

    monkeypatch.setattr(folding, 'merge_adapters', corrupted_merge)
    work_dir = tiny_runner.work_dir
    existing = osp.join(work_dir, f'{STEM}_merged.pth')
    with open(existing, 'wb') as file:
        file.write(b'an earlier, good merge')
    before = sorted(os.listdir(work_dir))
    hook = MergeAdaptersHook(verify_batches=1)
    with pytest.raises(
            MergeVerificationError,
            match=r'max abs logit difference .* > tolerance'):
        hook.after_train(tiny_runner)
    assert sorted(os.listdir(work_dir)) == before  # no json, no temp files
    with open(existing, 'rb') as file:
        assert file.read() == b'an earlier, good merge'

    # the same runner merges fine once the merge is right again, through
    # the writer tools/merge_adapters.py uses, over its own earlier file
    monkeypatch.setattr(folding, 'merge_adapters', real_merge)
    written = _record_writes(monkeypatch)
    path = hook.merge(tiny_runner)
    assert path == existing
    assert written == [[f'{STEM}_merged.pth', f'{STEM}_merged.json']]
    torch.load(existing, weights_only=False)  # a real checkpoint now
    assert json.load(open(existing[:-4] + '.json'))['passed']


def test_merge_hook_arguments_are_checked():
    with pytest.raises(ValueError, match='verify_batches=-1'):
        MergeAdaptersHook(verify_batches=-1)
    with pytest.raises(ValueError, match='tolerance'):
        MergeAdaptersHook(tolerance=-1.0)


# ------------------------------------------------------------------- DDP
def _ddp_worker(rank, world_size, init_file, work_dir, result_dir):
    """One process of a 2-process gloo group running the hook's merge on a
    runner stand-in (same weights on every rank, as under DDP; different
    validation batches per rank, as with a distributed sampler): first a
    good merge, then one that is wrong on rank 1 only."""
    import types

    import torch.distributed as dist
    from mmengine.logging import MMLogger

    # A forked child must not enter the OpenMP pool its parent already
    # started (it would wait for threads that do not exist in the child).
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=world_size)
    try:
        cfg = Config.fromfile(osp.join(REPO, CONFIG))
        cfg.model.backbone.pretrained = None  # the demo's image model
        cfg.model.backbone.arch = dict(TINY_ARCH)
        cfg.model.cls_head.in_channels = TINY_ARCH['width']
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).eval()
        randomize_adapters(model)
        generator = torch.Generator().manual_seed(rank)
        batches = [torch.randn(2, 1, 3, 8, 32, 32, generator=generator)]
        runner = types.SimpleNamespace(
            model=model,
            cfg=cfg,
            work_dir=work_dir,
            epoch=1,
            iter=5,
            logger=MMLogger.get_instance(f'ddp_merge_{rank}'),
            val_loop=types.SimpleNamespace(dataloader=batches))
        outcomes = {}
        for name in ('good', 'bad'):
            if name == 'bad' and rank == 1:
                real_merge = folding.merge_adapters

                def corrupted(module):
                    real_merge(module)
                    with torch.no_grad():
                        module.cls_head.fc_cls.bias.add_(1.0)
                    return module

                folding.merge_adapters = corrupted
            hook = MergeAdaptersHook(
                verify_batches=1, name=name, count_flops=False)
            try:
                outcomes[name] = dict(path=hook.merge(runner))
            except MergeVerificationError as error:
                outcomes[name] = dict(refused=str(error))
        atomic_write_json(outcomes, osp.join(result_dir, f'{rank}.json'))
    finally:
        dist.destroy_process_group()


def test_under_ddp_rank0_writes_and_all_ranks_agree(tmp_path):
    import torch.multiprocessing as mp
    work_dir, result_dir = tmp_path / 'work', tmp_path / 'results'
    work_dir.mkdir()
    result_dir.mkdir()
    # fork: the children start with everything imported (seconds, not tens)
    context = mp.start_processes(
        _ddp_worker,
        args=(2, str(tmp_path / 'init'), str(work_dir), str(result_dir)),
        nprocs=2,
        join=False,
        start_method='fork')
    for process in context.processes:
        process.join(60)
    hung = [p.pid for p in context.processes if p.is_alive()]
    for process in context.processes:
        if process.is_alive():
            process.kill()
    assert not hung, f'processes {hung} hung in the merge'
    assert all(p.exitcode == 0 for p in context.processes)
    rank0, rank1 = (
        json.load(open(result_dir / f'{rank}.json')) for rank in (0, 1))
    assert rank0['good']['path'] == str(work_dir / 'good_merged.pth')
    assert rank1['good']['path'] is None  # only rank 0 writes
    report = json.load(open(work_dir / 'good_merged.json'))
    assert report['num_samples'] == 4  # both ranks' clips are counted
    # the bad rank's difference reaches every rank: all refuse, none writes,
    # none waits for the others forever
    assert 'refused' in rank0['bad'] and 'refused' in rank1['bad']
    assert sorted(
        os.listdir(work_dir)) == ['good_merged.json', 'good_merged.pth']
