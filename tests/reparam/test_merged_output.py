"""The one merge output path (zeroi2v_mm/reparam/merged_output.py): the
merged config, and the merged checkpoint + report written both or neither,
never over existing files unless asked. That MergeAdaptersHook and
tools/merge_adapters.py both write through it is checked in
tests/engine/test_merge_hook.py."""
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from zeroi2v_mm.engine import MergeAdaptersHook
from zeroi2v_mm.reparam import merged_config, merged_config_hint, save_merged

from helpers import REPO

REPORT = dict(
    max_abs_diff=1e-6,
    top1_agreement=1.0,
    num_samples=4,
    tolerance=1e-4,
    passed=True,
    source='/runs/epoch_1.pth')


def test_merged_config_drops_adapters_mergeable_peft_and_the_hook():
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'))
    cfg.custom_hooks = [
        dict(type='MergeAdaptersHook'),
        dict(type='mmaction.MergeAdaptersHook'),
        dict(type=MergeAdaptersHook),
        dict(type='EMAHook')
    ]
    merged = merged_config(cfg)
    assert merged.model.backbone.adapters is None
    assert merged.custom_hooks == [dict(type='EMAHook')]
    # the training config is not changed
    assert cfg.model.backbone.adapters is not None
    assert len(cfg.custom_hooks) == 4

    lora = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/lora/'
            'lora-r96-all_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'))
    assert lora.model.backbone.peft is not None
    assert merged_config(lora).model.backbone.peft is None
    aim = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/aim/'
            'aim_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'))
    # AIM's modules stay at inference: its peft is kept
    assert merged_config(aim).model.backbone.peft == aim.model.backbone.peft


@pytest.mark.parametrize('config', [
    'configs/recognition/zeroi2v/'
    'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
    'configs/recognition/lora/'
    'lora-r96-all_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
    'configs/recognition/aim/'
    'aim_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
])
def test_merged_config_hint_gives_the_merged_config(config, tmp_path):
    """The --cfg-options the messages print make the backbone that
    merged_config makes (one rule, plain_settings, behind both)."""
    # a copy with no _merged.py beside it: the hint is --cfg-options
    Config.fromfile(osp.join(REPO, config)).dump(str(tmp_path / 'copy.py'))
    cfg = Config.fromfile(str(tmp_path / 'copy.py'))
    hint = merged_config_hint(cfg)
    assert hint.startswith(f'{cfg.filename} --cfg-options ')
    options = dict(
        option.split('=', 1)
        for option in hint.split(' --cfg-options ', 1)[1].split())
    assert all(value == 'None' for value in options.values())
    expected = merged_config(cfg).model.backbone
    cfg.merge_from_dict({key: None for key in options})
    assert cfg.model.backbone == expected


def _model():
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3)


def test_save_merged_writes_both_with_meta(tmp_path):
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'))
    ckpt = str(tmp_path / 'm_merged.pth')
    meta = save_merged(
        _model(),
        REPORT,
        ckpt,
        cfg=cfg,
        meta=dict(epoch=3, cfg='the training config'))
    assert sorted(os.listdir(tmp_path)) == ['m_merged.json', 'm_merged.pth']
    assert json.load(open(tmp_path / 'm_merged.json')) == REPORT
    loaded = torch.load(ckpt, weights_only=True)
    assert loaded['meta'] == meta
    assert meta['epoch'] == 3 and meta['merged_adapters'] is True
    assert meta['source'] == REPORT['source']
    assert meta['merge_report'] == dict(
        max_abs_diff=1e-6, top1_agreement=1.0, num_samples=4, tolerance=1e-4)
    # the merged config, not the training one the source meta carried
    assert 'adapters=None' in meta['cfg'].replace(' ', '')
    assert torch.equal(loaded['state_dict']['weight'], _model().weight)


@pytest.mark.parametrize('existing', ['m.pth', 'm.json'])
def test_save_merged_refuses_existing_files_unless_overwrite(
        tmp_path, existing):
    ckpt = str(tmp_path / 'm.pth')
    with open(tmp_path / existing, 'w') as file:
        file.write('earlier result')
    with pytest.raises(FileExistsError, match=f'{existing} exists'):
        save_merged(_model(), REPORT, ckpt)
    assert os.listdir(tmp_path) == [existing]
    assert open(tmp_path / existing).read() == 'earlier result'

    save_merged(_model(), REPORT, ckpt, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ['m.json', 'm.pth']
    assert json.load(open(tmp_path / 'm.json')) == REPORT


def test_save_merged_writes_neither_when_one_fails(tmp_path):
    ckpt = str(tmp_path / 'm.pth')
    save_merged(_model(), REPORT, ckpt)
    before = {
        name: open(tmp_path / name, 'rb').read()
        for name in os.listdir(tmp_path)
    }
    # an unserialisable report: nothing is written, the old pair stays
    with pytest.raises(TypeError):
        save_merged(_model(), dict(REPORT, bad=object()), ckpt, overwrite=True)
    # the report cannot be written (its folder is a file): the checkpoint,
    # staged first, is not put in place either
    (tmp_path / 'blocked').write_text('a file, not a folder')
    with pytest.raises(OSError):
        save_merged(
            torch.nn.Linear(4, 5),
            REPORT,
            ckpt,
            report_path=str(tmp_path / 'blocked' / 'm.json'),
            overwrite=True)
    after = {
        name: open(tmp_path / name, 'rb').read()
        for name in os.listdir(tmp_path) if name != 'blocked'
    }
    assert after == before  # no temporary files, old pair unchanged
    with pytest.raises(ValueError, match='same file'):
        save_merged(_model(), REPORT, ckpt, report_path=ckpt, overwrite=True)
