"""``tools/convert_official_checkpoint.py`` reads the layout of an official
ZeroI2V checkpoint off its keys, takes what the weights do not say from its
table of released models (checked against the official configs), refuses a
file, a setting or a config that would give other predictions (naming it),
and says which config here fits."""
import os.path as osp

import pytest
import torch

from mmaction.registry import MODELS
from zeroi2v_mm.models import official_checkpoint as oc

from helpers import REPO, sha256_of
from helpers.official_reference import (TOOL, VIT_B16_K400_8F,
                                        VIT_L14_SSV2_32F, RefRecognizer,
                                        heads_of, meta_state,
                                        official_channel_schedule, randomize,
                                        tiny_config, tool_args)

pytestmark = pytest.mark.usefixtures('one_thread')

# ------------------------------------------- released settings and layouts
# The STDHA and adapter arguments of the official configs (MCG-NJU/ZeroI2V
# configs/recognition/vit_zero_clip/*.py), as (width, heads, TemporalShift
# arguments, adapter_scale).
OFFICIAL_CONFIGS = {
    'K400 ViT-B/16 8f (83.0)': (768, 12, dict(shift_div=12), 0.5),
    'K400 ViT-L/14 8f (86.3)': (1024, 16, dict(shift_div=8), 0.5),
    'K400 ViT-L/14 32f (87.2)': (1024, 16, dict(shift_div=8,
                                                long_shift_div=8), 0.5),
    # stdha_long.py: shift2 always goes both ways
    'SSv2 ViT-L/14 32f (72.2)': (1024, 16,
                                 dict(
                                     shift_div=8,
                                     long_shift_div=16,
                                     long_shift_right=True,
                                     shift3_div=16), 1.0),
    'SSv2 ViT-B/16 16f (config only)':
    (768, 12, dict(shift_div=12, long_shift_div=12,
                   long_shift_right=True), 1.0),
    'UCF101 ViT-B/16 8f (config only)': (768, 12, dict(shift_div=12), 0.5),
    'HMDB51 ViT-B/16 8f (config only)': (768, 12, dict(shift_div=12), 0.5),
    'UCF101 ViT-B/16 32f (config only)':
    (768, 12, dict(shift_div=12, long_shift_div=12,
                   long_shift_right=True), 0.5),
    'HMDB51 ViT-B/16 32f (config only)':
    (768, 12, dict(shift_div=12, long_shift_div=12,
                   long_shift_right=True), 0.5),
}


def test_released_table_matches_official_configs():
    """The table's head order and scale are the official configs'."""
    assert sorted(m.name for m in TOOL.RELEASED) == sorted(OFFICIAL_CONFIGS)
    for model in TOOL.RELEASED:
        width, heads, shift, scale = OFFICIAL_CONFIGS[model.name]
        schedule = official_channel_schedule(width, **shift)
        assert list(heads_of(schedule, width // heads).items()) == \
            list(model.offsets), model.name
        assert model.adapter_scale == scale, model.name
        assert oc.ARCHS[model.arch]['width'] == width
        for config in (model.config, model.merged_config):
            # the configs named either exist here or are named as missing
            if config and not config.endswith('_official.py'):
                assert osp.isfile(osp.join(REPO, config)), config
    # released checkpoints (official README): K400 B 8f, L 8f, L 32f; SSv2 L
    assert [(m.arch, m.num_frames, m.num_classes) for m in TOOL.RELEASED
            if m.checkpoint_released] == [('ViT-B/16', 8, 400),
                                          ('ViT-L/14', 8, 400),
                                          ('ViT-L/14', 32, 400),
                                          ('ViT-L/14', 32, 174)]


@pytest.mark.parametrize('merged', [False, True])
def test_vit_l_layout_inferred(merged, skip_random_init):
    """A ViT-L/14 SSv2 32f checkpoint (24 blocks, 16 heads, patch 14, 224
    px): arch, frames, classes, adapters and the released settings are read
    off the keys, and the converted keys are the matching model's."""
    state = meta_state(merged=merged, **VIT_L14_SSV2_32F)
    spec = oc.infer_spec(state, 'ssv2_l14.pth')
    assert spec.arch_name == 'ViT-L/14'
    assert spec.arch == dict(
        width=1024, layers=24, heads=16, patch_size=14, image_size=224)
    assert (spec.num_frames, spec.num_classes) == (32, 174)
    assert spec.format == ('merged' if merged else 'training')
    assert spec.num_adapters == (None if merged else 4)
    assert spec.adapter_hidden == (None if merged else 256)
    TOOL.released_settings(spec)
    assert spec.offsets == {-1: 2, 1: 2, -2: 1, 2: 1, -3: 1}
    assert list(spec.offsets) == [-1, 1, -2, 2, -3]
    assert 'shift1_div=8' in spec.offsets_source
    assert spec.adapter_scale == (None if merged else 1.0)
    lines = '\n'.join(TOOL.fitting_configs(spec, REPO, 'out.pth'))
    assert ('use: mim test mmaction configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb_merged'
            '.py --checkpoint out.pth\n' if merged else
            'use: mim test mmaction configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb.py '
            '--checkpoint out.pth --cfg-options model.backbone.pretrained='
            'None') in lines + '\n'
    converted = oc.convert_state_dict(state, spec)
    target = MODELS.build(oc.model_config(spec)).state_dict()
    assert sorted(converted) == sorted(target)
    assert all(converted[k].shape == target[k].shape for k in target)


def test_vit_b_layout_and_three_adapters_inferred():
    state = meta_state(num_tadapter=1, **VIT_B16_K400_8F)
    spec = TOOL.released_settings(oc.infer_spec(state, 'k400_b16.pth'))
    assert spec.arch_name == 'ViT-B/16' and spec.num_adapters == 3
    assert list(spec.offsets.items()) == [(-1, 1), (1, 1)]
    assert spec.adapter_scale == 0.5
    assert TOOL.find_released(spec).config == (
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    assert 'MLP_Adapter_out' not in spec.adapter_names


# ------------------------------------------------------------- bad inputs
@pytest.fixture(scope='module')
def small_official():
    """A tiny official training state dict (2 blocks, 4 adapters)."""
    model = randomize(RefRecognizer(layers=2, heads=4, schedule=[]))
    return model.state_dict()


def convert(src, out, *extra):
    return TOOL.main(tool_args(src, out, '-1:1,1:1', 4, 0.5) + list(extra))


@pytest.mark.parametrize('change, named', [
    ('drop backbone.transformer.resblocks.1.S_Adapter.D_fc2.bias',
     "missing key 'backbone.transformer.resblocks.1.S_Adapter.D_fc2.bias'"),
    ('drop backbone.ln_post.weight', "missing key 'backbone.ln_post.weight'"),
    ('drop backbone.transformer.resblocks.1.MLP_Adapter_out.D_fc1.weight',
     "missing key 'backbone.transformer.resblocks.1.MLP_Adapter_out.D_fc1."
     "weight'"),
    ('add backbone.proj', "unknown key 'backbone.proj'"),
    ('add backbone.transformer.resblocks.0.attn.bias_k',
     "unknown key 'backbone.transformer.resblocks.0.attn.bias_k'"),
    ('add backbone.transformer.resblocks.0.Extra_Adapter.D_fc1.weight',
     "unknown key backbone.transformer.resblocks.0.Extra_Adapter"),
])
def test_missing_or_unknown_key_named(change, named, small_official, tmp_path,
                                      capsys):
    action, key = change.split()
    state = dict(small_official)
    if action == 'drop':
        del state[key]
    else:
        state[key] = torch.zeros(3)
    src, out = tmp_path / 'official.pth', tmp_path / 'out.pth'
    torch.save(dict(state_dict=state), src)
    assert convert(src, out) == 1
    assert named in capsys.readouterr().err
    assert not out.exists()


def test_not_an_official_checkpoint_named(small_official, tmp_path, capsys):
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    assert convert(text, tmp_path / 'out.pth') == 1
    err = capsys.readouterr().err
    assert f'{text}: not a checkpoint of the official ZeroI2V code' in err

    plain = tmp_path / 'resnet.pth'
    torch.save({'conv.weight': torch.zeros(2)}, plain)
    assert convert(plain, tmp_path / 'out.pth') == 1
    assert f'{plain}: not a checkpoint of the official ZeroI2V code' in \
        capsys.readouterr().err

    converted = tmp_path / 'converted.pth'
    src = tmp_path / 'official.pth'
    torch.save(small_official, src)
    assert convert(src, converted) == 0
    capsys.readouterr()
    assert convert(converted, tmp_path / 'again.pth') == 1
    assert 'already in zeroi2v_mm layout' in capsys.readouterr().err


def test_settings_needed_and_overwrite_refused(small_official, tmp_path,
                                               capsys):
    src, out = tmp_path / 'official.pth', tmp_path / 'out.pth'
    torch.save(small_official, src)
    # not a released model: the head schedule must be given
    assert TOOL.main(
        [str(src),
         str(out), '--heads', '4', '--adapter-scale', '0.5']) == 1
    assert '--stdha' in capsys.readouterr().err
    assert TOOL.main([str(src),
                      str(out), '--heads', '4', '--stdha=-1:1,1:1']) == 1
    assert '--adapter-scale' in capsys.readouterr().err
    assert not out.exists()
    out.write_bytes(b'keep me')
    assert convert(src, out) == 1
    assert 'exists; pass --force' in capsys.readouterr().err
    assert out.read_bytes() == b'keep me'
    assert convert(src, out, '--force') == 0
    assert 'state_dict' in torch.load(out, weights_only=True)


@pytest.mark.parametrize('override, named', [
    ("stdha=dict(_delete_=True, offsets={1: 1, -1: 1})",
     'model.backbone.stdha.offsets (in head order)={1: 1, -1: 1}'),
    ('adapters=dict(scale=1.0)', 'model.backbone.adapters.scale=1.0'),
    ('adapters=None', 'model.backbone.adapters=None'),
    ('num_frames=16', 'model.backbone.num_frames=16'),
])
def test_config_that_would_predict_differently_refused(override, named,
                                                       small_official,
                                                       tmp_path, capsys):
    src, out = tmp_path / 'official.pth', tmp_path / 'out.pth'
    torch.save(dict(state_dict=small_official), src)
    config = tiny_config(
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
        dict(layers=2, heads=4, scale=0.5), '-1:1,1:1', 4, False, tmp_path)
    assert convert(src, out, '--config', config) == 0
    bad = tmp_path / 'bad.py'
    bad.write_text(f'_base_ = [{config!r}]\n'
                   f'model = dict(backbone=dict({override}))\n')
    assert convert(src, tmp_path / 'bad.pth', '--config', str(bad)) == 1
    assert named in capsys.readouterr().err
    assert not (tmp_path / 'bad.pth').exists()


def test_named_config_checked(tmp_path):
    """The config the table names is checked too: a head order other than
    the released one is reported."""
    state = meta_state(**VIT_B16_K400_8F)
    spec = TOOL.released_settings(oc.infer_spec(state, 'k400_b16.pth'))
    (tmp_path / 'configs' / 'recognition' / 'zeroi2v').mkdir(parents=True)
    for offsets, fits in (('[(-1, 1), (1, 1)]', True), ('{1: 1, -1: 1}',
                                                        False)):
        (tmp_path / 'configs' / 'recognition' / 'zeroi2v' /
         'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py').write_text(
             "model = dict(backbone=dict(type='ZeroI2VViT', arch='ViT-B/16', "
             f"num_frames=8, stdha=dict(offsets={offsets}), adapters=dict("
             "num_adapters=4, ratio=0.25, scale=0.5)), cls_head=dict("
             "num_classes=400, in_channels=768))\n")
        lines = '\n'.join(TOOL.fitting_configs(spec, str(tmp_path)))
        assert ('config: configs/recognition/zeroi2v/'
                'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'
                in lines)
        assert ('WARNING' not in lines) == fits, lines
        if not fits:
            assert 'stdha.offsets (in head order)={1: 1, -1: 1}' in lines
    # a schedule given by hand that differs from the released one is flagged
    TOOL.released_settings(spec, offsets={1: 1, -1: 1})
    assert "WARNING: the released model 'K400 ViT-B/16 8f (83.0)' has " \
        'STDHA {-1: 1, 1: 1}' in '\n'.join(TOOL.fitting_configs(spec, REPO))


def test_converter_never_writes_over_its_input(small_official, tmp_path):
    """The library step itself (not only the tool's early check) refuses an
    OUT that is the official checkpoint, through a link, even with
    force."""
    from zeroi2v_mm.utils.io import OutputPathError
    src = tmp_path / 'official.pth'
    torch.save(small_official, src)
    before = sha256_of(src)
    link = tmp_path / 'link.pth'
    link.symlink_to(src)
    state, spec = oc.read_official_checkpoint(str(src), heads=4)
    oc.set_settings(spec, {-1: 1, 1: 1}, 'test', 0.5, 'test')
    with pytest.raises(OutputPathError, match='is the official checkpoint'):
        oc.write_converted(state, spec, str(link), force=True)
    assert sha256_of(src) == before
