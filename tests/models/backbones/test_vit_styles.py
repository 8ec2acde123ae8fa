"""ViT styles beyond CLIP (issue 18 item 1): timm and mmpretrain ViTs, with
and without LayerScale, load through ``pretrained`` and give, with
adaptation off, exactly the library's own per-frame CLS features; weights of
another layout are refused naming the file; STDHA, adapters, merging, InTI
and export work the same in every style."""
import copy

import pytest
import torch
import torch.nn as nn

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.reparam import check_same_structure, merge_adapters

from helpers import (load_tool, make_tiny_videos, randomize_adapters,
                     tiny_demo_overrides)
from helpers.vit_styles import ARCH, perturb, tiny_mmpretrain, tiny_timm


def _layer_norm_eps(model: nn.Module) -> set:
    return {m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)}


def _frames_features(backbone: ZeroI2VViT, clip: torch.Tensor) -> torch.Tensor:
    """(N, 3, T, H, W) -> per-frame CLS features (N*T, C), time-major."""
    with torch.no_grad():
        out = backbone(clip)[..., 0, 0]  # (N, C, T)
    return out.transpose(1, 2).flatten(0, 1)


def _loaded(path, **kwargs) -> ZeroI2VViT:
    kwargs.setdefault('arch', ARCH)
    kwargs.setdefault('num_frames', 2)
    backbone = ZeroI2VViT(pretrained=str(path), **kwargs)
    backbone.init_weights()
    return backbone.eval()


# ------------------------------------------------------------ equivalence
@pytest.mark.parametrize('layer_scale', [None, 0.1], ids=['plain', 'dinov2'])
def test_tiny_timm_vit_equals_forward_features(tmp_path, layer_scale):
    timm_model = tiny_timm(layer_scale)
    path = tmp_path / 'timm_vit.pth'
    torch.save(timm_model.state_dict(), path)
    # fresh adapters are the identity: adaptation is off
    backbone = _loaded(
        path,
        style='timm',
        layer_scale=layer_scale,
        adapters=dict(num_adapters=4, scale=0.5))
    assert _layer_norm_eps(backbone) == _layer_norm_eps(timm_model) == {1e-6}
    clip = torch.randn(2, 3, 2, 32, 32)
    ours = _frames_features(backbone, clip)
    with torch.no_grad():
        reference = timm_model.forward_features(
            clip.transpose(1, 2).flatten(0, 1))[:, 0]  # after its final norm
    assert (ours - reference).abs().max() <= 1e-4


def test_timm_vit_b16_equals_forward_features(tmp_path):
    """The real-size check: a randomly initialised timm vit_base_patch16_224
    saved with torch.save(model.state_dict()), 2 frames."""
    import timm
    torch.manual_seed(0)
    timm_model = timm.create_model(
        'vit_base_patch16_224', pretrained=False).eval()
    path = tmp_path / 'vit_base_patch16_224.pth'
    torch.save(timm_model.state_dict(), path)
    backbone = _loaded(path, arch='ViT-B/16', style='timm')
    clip = torch.randn(1, 3, 2, 224, 224)
    ours = _frames_features(backbone, clip)
    with torch.no_grad():
        reference = timm_model.forward_features(clip[0].transpose(0, 1))[:, 0]
    assert ours.shape == (2, 768)
    assert (ours - reference).abs().max() <= 1e-4


@pytest.mark.parametrize('layer_scale', [0.0, 0.1], ids=['plain', 'ls'])
def test_mmpretrain_vit_checkpoint_equals_its_output(tmp_path, layer_scale):
    """An ImageClassifier checkpoint as mmpretrain writes it: backbone.*,
    head.* (dropped), inside {'meta', 'state_dict'}."""
    vit = tiny_mmpretrain(layer_scale)
    state = {'backbone.' + k: v for k, v in vit.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(5, 64)
    path = tmp_path / 'mmpretrain_vit.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=state), path)
    backbone = _loaded(
        path, style='mmpretrain', layer_scale=layer_scale or None)
    assert _layer_norm_eps(backbone) == _layer_norm_eps(vit) == {1e-6}
    clip = torch.randn(1, 3, 2, 32, 32)
    ours = _frames_features(backbone, clip)
    with torch.no_grad():
        reference = vit(clip[0].transpose(0, 1))[-1]  # CLS after ln1
    assert (ours - reference).abs().max() <= 1e-4


# -------------------------------------------------------------- refusals
def test_timm_weights_into_clip_style_name_the_file(tmp_path):
    path = tmp_path / 'timm_vit.pth'
    torch.save(tiny_timm().state_dict(), path)
    with pytest.raises(
            ValueError, match=f"{path}.*style='clip'.*"
            "style='timm'"):
        _loaded(path)  # style defaults to 'clip'


def test_clip_weights_into_timm_style_name_the_file(tmp_path):
    import open_clip
    clip_model = open_clip.CLIP(
        embed_dim=32,
        vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8),
        text_cfg=dict(
            context_length=8, vocab_size=50, width=32, heads=2, layers=1))
    path = tmp_path / 'open_clip.pth'
    torch.save(clip_model.state_dict(), path)
    with pytest.raises(
            ValueError,
            match=f"{path} holds CLIP-layout.*"
            "style='timm'.*style='clip'"):
        _loaded(path, style='timm')


def test_layer_scale_must_match_the_weights(tmp_path):
    with_ls = tmp_path / 'dinov2_style.pth'
    torch.save(tiny_timm(layer_scale=0.1).state_dict(), with_ls)
    with pytest.raises(
            ValueError, match=f'{with_ls} holds LayerScale.*'
            'layer_scale=None'):
        _loaded(with_ls, style='timm')
    without = tmp_path / 'plain.pth'
    torch.save(tiny_timm().state_dict(), without)
    with pytest.raises(
            ValueError, match=f'{without} holds a ViT without '
            'LayerScale'):
        _loaded(without, style='timm', layer_scale=0.1)


def test_unsupported_timm_variant_names_the_key(tmp_path):
    path = tmp_path / 'registers.pth'
    torch.save(tiny_timm(reg_tokens=4).state_dict(), path)
    with pytest.raises(ValueError, match=f"{path}: timm ViT key 'reg_token'"):
        _loaded(path, style='timm')


def test_recognizer_checkpoint_of_another_style_is_refused():
    """MMEngine's loaders (load_from, mim test) go through
    _load_from_state_dict: a style='timm' model's weights into a 'clip' one
    fail there too, before any key is silently dropped."""
    timm_style = ZeroI2VViT(arch=ARCH, num_frames=2, style='timm')
    clip_style = ZeroI2VViT(arch=ARCH, num_frames=2)
    state = {'backbone.' + k: v for k, v in timm_style.state_dict().items()}
    wrapper = nn.Module()
    wrapper.backbone = clip_style
    with pytest.raises(ValueError, match="style='clip'"):
        wrapper.load_state_dict(state, strict=False)


def test_bad_style_and_layer_scale_values():
    with pytest.raises(ValueError, match="style='vit'"):
        ZeroI2VViT(arch=ARCH, style='vit')
    with pytest.raises(ValueError, match="layer_scale='yes'"):
        ZeroI2VViT(arch=ARCH, style='timm', layer_scale='yes')
    with pytest.raises(ValueError, match='no LayerScale'):
        ZeroI2VViT(
            arch=ARCH,
            style='timm',
            layer_scale=0.1,
            adapters=None,
            peft=dict(type='AIM'))


def test_style_layouts():
    """What each style builds (read against the libraries above)."""
    clip = ZeroI2VViT(arch=ARCH, num_frames=2)
    timm_style = ZeroI2VViT(
        arch=ARCH, num_frames=2, style='timm', layer_scale=1e-5)
    assert isinstance(clip.ln_pre, nn.LayerNorm) and clip.conv1.bias is None
    assert clip.act == 'quick_gelu' and _layer_norm_eps(clip) == {1e-5}
    assert isinstance(timm_style.ln_pre, nn.Identity)
    assert timm_style.conv1.bias is not None and timm_style.act == 'gelu'
    block = timm_style.transformer.resblocks[0]
    assert torch.equal(block.ls_1.gamma, torch.full((64, ), 1e-5))
    # LayerScale is part of the frozen image model
    assert not block.ls_1.gamma.requires_grad
    assert isinstance(clip.transformer.resblocks[0].ls_1, nn.Identity)


# ------------------------------------------- STDHA, adapters, merge, InTI
@pytest.mark.parametrize('style,layer_scale', [('clip', None), ('timm', None),
                                               ('timm', 0.1),
                                               ('mmpretrain', 0.1)])
@pytest.mark.parametrize(
    'compress', [None, dict(type='InTI', after_blocks=(1, ))],
    ids=['no_compress', 'inti'])
def test_merged_equals_unmerged_in_every_style(style, layer_scale, compress):
    options = dict(
        arch=ARCH,
        num_frames=4,
        style=style,
        layer_scale=layer_scale,
        compress=compress,
        stdha=dict(offsets=[(-1, 1), (1, 1)]))
    torch.manual_seed(0)
    model = perturb(
        ZeroI2VViT(adapters=dict(num_adapters=4, scale=0.5), **options))
    randomize_adapters(model)
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        before = model(clip)
        merged = merge_adapters(copy.deepcopy(model)).eval()
        after = merged(clip)
    assert (before - after).abs().max() <= 1e-5
    # the merged model is the plain model of the config, LayerScale kept
    check_same_structure(merged, ZeroI2VViT(**options))
    # STDHA is on: the same weights without it give other features
    spatial = ZeroI2VViT(**dict(options, stdha=None))
    spatial.load_state_dict(merged.state_dict())
    with torch.no_grad():
        assert (spatial.eval()(clip) - after).abs().max() > 1e-3


def test_onnx_export_of_a_timm_style_model(tmp_path):
    """tools/deployment/export_onnx.py on the demo config turned into a
    timm-style LayerScale model: onnxruntime equals the unmerged PyTorch
    model (--verify, and our own comparison)."""
    import argparse

    from mmengine.config import Config, DictAction

    from mmaction.registry import MODELS
    from zeroi2v_mm.deployment import DeployedRecognizer, run_exported

    from helpers import REPO
    config = f'{REPO}/configs/demo/zeroi2v_synthetic.py'
    data = make_tiny_videos(
        tmp_path / 'data', videos_per_class=1, val_per_class=1)
    options = [
        o for o in tiny_demo_overrides(data, 'unused')
        if not o.startswith('model.backbone.pretrained')
    ]
    options += [
        'model.backbone.style=timm', 'model.backbone.layer_scale=0.1',
        'model.backbone.act=gelu'
    ]
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parser.parse_args(['--o', *options]).o)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    perturb(model.backbone, std=0.02)
    randomize_adapters(model)
    checkpoint = str(tmp_path / 'epoch_1.pth')
    torch.save(
        dict(meta=dict(epoch=1), state_dict=model.state_dict()), checkpoint)
    out = tmp_path / 'timm_style.onnx'
    tool = load_tool('tools/deployment/export_onnx.py')
    assert tool.main([
        config, checkpoint, '--out',
        str(out), '--verify', '--cfg-options', *options
    ]) == 0
    clips = torch.rand(
        2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(5)) * 255
    with torch.no_grad():
        want = DeployedRecognizer(model.eval())(clips)
    assert (run_exported(str(out), clips) - want).abs().max() < 1e-4


# --------------------------------------------------------- IN21K configs
@pytest.mark.parametrize('config,clip_config', [
    ('zeroi2v_in21k-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
     'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'),
    ('zeroi2v_in21k-vit-base-p16_u8-50e_sthv2-rgb.py',
     'zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py')
])
def test_in21k_configs_are_the_clip_recipes_with_timm_weights(
        config, clip_config):
    """Paper Table 13: "the same model and training settings" as CLIP; only
    the image model's layout, weights and normalisation (mean = std = 0.5
    for timm's augreg IN21K ViT) differ."""
    from mmengine.config import Config

    from helpers import REPO
    in21k = Config.fromfile(f'{REPO}/configs/recognition/zeroi2v/{config}')
    clip = Config.fromfile(f'{REPO}/configs/recognition/zeroi2v/{clip_config}')
    backbone = in21k.model.backbone
    assert (backbone.style, backbone.act) == ('timm', 'gelu')
    assert backbone.pretrained.endswith('vit_base_patch16_224.augreg_in21k'
                                        '.pth')
    assert in21k.model.data_preprocessor.mean == [127.5] * 3
    assert in21k.model.data_preprocessor.std == [127.5] * 3
    for cfg in (in21k, clip):
        cfg.model.backbone.pop('style', None)
        for key in ('act', 'pretrained'):
            cfg.model.backbone.pop(key)
        for key in ('mean', 'std'):
            cfg.model.data_preprocessor.pop(key)
    differ = {
        key
        for key in set(in21k._cfg_dict) | set(clip._cfg_dict)
        if in21k._cfg_dict.get(key) != clip._cfg_dict.get(key)
    }
    assert not differ, differ
