"""Checkpoints of the official ZeroI2V code, in both of its formats, convert
with ``tools/convert_official_checkpoint.py``, load strictly into the
matching config here and give the official model's logits (against the
independent reference in ``tests/helpers/official_reference.py``);
``mim test`` of a converted checkpoint gives the official model's
predictions."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmaction.registry import MODELS
from zeroi2v_mm.reparam import merge_adapters

from helpers import REPO, run_cli
from helpers.official_reference import (CLASSES, FRAMES, PATCH, SIZE, TOOL,
                                        WIDTH, RefRecognizer,
                                        convert_for_tiny_demo,
                                        converted_logits, logits_of,
                                        official_channel_schedule, randomize,
                                        save_training, tiny_config, tool_args,
                                        weight_reparam)

pytestmark = pytest.mark.usefixtures('one_thread')

# (name, reference kwargs, config it loads into, --stdha for the tool)
SETTINGS = {
    # released ViT-B K400 8f layout: stdha.py shift_div=12 on 12 heads ->
    # here 4 heads, shift_div=4: head 0 reads t-1, head 1 t+1
    'k400_4adapters':
    (dict(
        layers=3,
        heads=4,
        schedule=official_channel_schedule(64, 4),
        num_tadapter=2,
        scale=0.5), 'configs/recognition/zeroi2v/'
     'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py', '-1:1,1:1', 4),
    'k400_3adapters':
    (dict(
        layers=2,
        heads=4,
        schedule=official_channel_schedule(64, 4),
        num_tadapter=1,
        scale=0.5), 'configs/recognition/zeroi2v/'
     'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py', '-1:1,1:1', 3),
    # released ViT-L SSv2 32f layout (stdha_long.py shift1_div=8,
    # shift2_div=16 both ways, shift3_div=16 left) on 16 heads as ViT-L
    # (here 4 channels wide): 7 temporal heads
    'ssv2_long': (dict(
        layers=2,
        heads=16,
        schedule=official_channel_schedule(64, 8, 16, True, 16),
        num_tadapter=2,
        scale=1.0), 'configs/recognition/zeroi2v/'
                  'zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb.py',
                  '-1:2,1:2,-2:1,2:1,-3:1', 4),
    # attn_adapter_type='qkv' (vit_zero_clip_ablation.py): 6 adapters
    'qkv_6adapters':
    (dict(
        layers=2,
        heads=4,
        schedule=official_channel_schedule(64, 4),
        num_tadapter=2,
        scale=1.0,
        attn_adapter_type='qkv'), 'configs/recognition/zeroi2v/'
     'zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py', '-1:1,1:1', 6),
}


@pytest.fixture(scope='module')
def clip():
    return torch.randn(
        2, 3, FRAMES, SIZE, SIZE,
        generator=torch.Generator().manual_seed(1)) * 2


@pytest.mark.parametrize('setting', sorted(SETTINGS))
def test_training_and_merged_formats_give_official_logits(
        setting, clip, tmp_path):
    ref_kwargs, base_config, stdha, num_adapters = SETTINGS[setting]
    reference = randomize(RefRecognizer(**ref_kwargs))
    with torch.no_grad():
        expected = reference(clip)
        # STDHA must matter here, or a wrong head order could pass unseen
        spatial = RefRecognizer(**dict(ref_kwargs, schedule=[]))
        spatial.load_state_dict(reference.state_dict())
        assert (spatial.eval()(clip) - expected).abs().max() > 1e-3

    src = tmp_path / 'epoch_40.pth'
    save_training(reference, src)
    config = tiny_config(
        base_config,
        ref_kwargs,
        stdha,
        num_adapters,
        False,
        tmp_path,
        pairs=setting == 'ssv2_long')
    out = str(tmp_path / 'converted.pth')
    assert TOOL.main(
        tool_args(src, out, stdha, ref_kwargs['heads'], ref_kwargs['scale'],
                  config)) == 0
    logits, checkpoint, converted = converted_logits(out, config, clip)
    assert (logits - expected).abs().max() <= 1e-5
    meta = checkpoint['meta']['official_checkpoint']
    assert meta['format'] == 'training'
    assert meta['num_adapters'] == num_adapters
    assert meta['stdha_offsets'] == [
        list(p) for p in TOOL.parse_offsets(stdha).items()
    ]

    if ref_kwargs.get('attn_adapter_type') == 'qkv':
        return  # weight_reparam.py folds the shared layout only
    # merged format: what tools/weight_reparam.py writes (a bare state dict)
    merged_state = weight_reparam(reference.state_dict(), ref_kwargs['scale'],
                                  ref_kwargs['num_tadapter'],
                                  ref_kwargs['layers'])
    merged_src = tmp_path / 'epoch_40_eval.pth'
    torch.save(merged_state, merged_src)
    merged_reference = RefRecognizer(**dict(ref_kwargs, adapters=False))
    merged_reference.load_state_dict(merged_state, strict=True)
    with torch.no_grad():
        merged_expected = merged_reference.eval()(clip)
    # (the official merge is exact up to fp32 rounding)
    assert (merged_expected - expected).abs().max() <= 1e-4
    merged_base = base_config.replace('.py', '_merged.py')
    assert osp.isfile(osp.join(REPO, merged_base))
    merged_config = tiny_config(merged_base, ref_kwargs, stdha, num_adapters,
                                True, tmp_path)
    merged_out = str(tmp_path / 'converted_merged.pth')
    assert TOOL.main(
        tool_args(
            merged_src,
            merged_out,
            stdha,
            ref_kwargs['heads'],
            config=merged_config)) == 0
    logits, checkpoint, _ = converted_logits(merged_out, merged_config, clip)
    assert (logits - merged_expected).abs().max() <= 1e-5
    assert checkpoint['meta']['official_checkpoint']['format'] == 'merged'
    # this package's own merge of the converted training checkpoint is the
    # official merged model too (3 adapters included)
    own_merge = merge_adapters(converted)
    assert (logits_of(own_merge, clip) - merged_expected).abs().max() <= 1e-5
    assert sorted(own_merge.state_dict()) == sorted(checkpoint['state_dict'])


@pytest.mark.slow
def test_mim_test_of_converted_checkpoint_gives_official_predictions(tmp_path):
    """End to end, as a user does it: the script (a subprocess) converts a
    training checkpoint against a config, and `mim test` of the result on
    generated videos gives the official model's class probabilities."""
    import pickle

    from mmengine.runner import Runner

    from helpers import make_tiny_videos, tiny_demo_overrides

    data = make_tiny_videos(
        tmp_path / 'data', videos_per_class=1, val_per_class=1)
    reference, config, out, log = convert_for_tiny_demo(tmp_path)
    assert 'training format' in log and 'num_adapters: 4' in log
    assert 'stdha=dict(offsets=[(-1, 1), (1, 1)])' in log
    options = tiny_demo_overrides(data, str(tmp_path / 'work'))
    log = run_cli([
        'mim', 'test', 'mmaction',
        str(config), '--checkpoint',
        str(out), '--work-dir',
        str(tmp_path / 'work'), '--dump',
        str(tmp_path / 'preds.pkl'), '--cfg-options', *options,
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ])
    assert 'missing keys' not in log and 'unexpected key' not in log
    with open(tmp_path / 'preds.pkl', 'rb') as file:
        scores = torch.stack(
            [torch.as_tensor(r['pred_score']) for r in pickle.load(file)])

    # the official model on the same preprocessed clips ('prob' averaging)
    cfg = Config.fromfile(str(config))
    loader_cfg = cfg.test_dataloader
    loader_cfg.dataset.ann_file = f'{data}/val_list.txt'
    loader_cfg.dataset.data_prefix.video = f'{data}/videos'
    loader_cfg.dataset.pipeline[3]['scale'] = (32, 32)
    loader_cfg.update(batch_size=4, num_workers=0, persistent_workers=False)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    expected = []
    for batch in Runner.build_dataloader(loader_cfg):
        inputs = preprocessor(batch, False)['inputs']  # (N, V, 3, T, H, W)
        with torch.no_grad():
            logits = reference(inputs.flatten(0, 1))
        expected.append(logits.view(*inputs.shape[:2], -1).softmax(-1).mean(1))
    expected = torch.cat(expected)
    assert scores.shape == expected.shape == (10, CLASSES)
    assert (scores - expected).abs().max() <= 1e-5


def test_head_order_survives_config_dump_only_as_pairs(tmp_path):
    """MMEngine's Config.dump (the work_dirs/<config>.py copy) sorts dict
    keys: a dict-form schedule comes back with the heads on other offsets,
    the (dt, heads) pairs form keeps them; the backbone takes both."""
    released = {-1: 2, 1: 2, -2: 1, 2: 1, -3: 1}  # ViT-L SSv2 32f
    expected = [(0, 2, -1), (2, 4, 1), (4, 5, -2), (5, 6, 2), (6, 7, -3)]
    groups = {}
    for form, offsets in (('dict', released), ('pairs',
                                               list(released.items()))):
        cfg = Config(
            dict(
                backbone=dict(
                    type='ZeroI2VViT',
                    num_frames=FRAMES,
                    stdha=dict(offsets=offsets),
                    arch=dict(
                        width=WIDTH,
                        layers=1,
                        heads=16,
                        patch_size=PATCH,
                        image_size=SIZE))))
        cfg.dump(str(tmp_path / f'{form}.py'))
        reloaded = Config.fromfile(str(tmp_path / f'{form}.py'))
        backbone = MODELS.build(reloaded.backbone)
        groups[form] = backbone.transformer.resblocks[0].attn.head_groups
    assert groups['pairs'] == expected
    assert groups['dict'] != expected  # why configs should use pairs
    with pytest.raises(ValueError, match='offset -1 is listed twice'):
        MODELS.build(
            dict(
                type='ZeroI2VViT',
                num_frames=FRAMES,
                stdha=dict(offsets=[(-1, 1), (-1, 1)]),
                arch=dict(
                    width=WIDTH,
                    layers=1,
                    heads=4,
                    patch_size=PATCH,
                    image_size=SIZE)))
