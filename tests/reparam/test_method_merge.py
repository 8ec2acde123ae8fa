"""Merging the comparison methods (``ZeroI2VViT(peft=...)``): LoRA and
temporal heads fold exactly into the plain model, through merge_adapters,
merge_and_verify (the hook's path) and tools/merge_adapters.py; AIM,
ST-Adapter and GELU adapters stay at inference and are refused by every
merge path; a checkpoint of one method does not load silently into a model
without it."""
import glob
import os.path as osp

import pytest
import torch

from zeroi2v_mm.models.peft import HeadDeltaLinear, LoRALinear
from zeroi2v_mm.reparam import (build_plain_model, count_adapted_linears,
                                merge_adapters, merge_and_verify)
from zeroi2v_mm.utils.complexity import count_parameters, count_view_flops

from helpers import REPO, TINY_ARCH
from helpers.peft import (FRAMES, METHODS, build, clips, randomize,
                          tiny_recognizer_cfg)

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize('method', ['LoRA', 'LoRA_split_qkv', 'TemporalHeads'])
def test_mergeable_methods_fold_exactly_into_the_plain_model(method):
    torch.manual_seed(0)
    model = build(METHODS[method]).eval()
    randomize(model)
    kinds = (LoRALinear if method.startswith('LoRA') else HeadDeltaLinear)
    assert count_adapted_linears(model) == sum(
        isinstance(m, kinds) for m in model.modules()) > 0
    x = clips()
    with torch.no_grad():
        before = model(x)
        merge_adapters(model)
        after = model(x)
    assert (before - after).abs().max() <= 1e-5
    assert count_adapted_linears(model) == 0 and model.method is None
    plain = build({})
    plain.load_state_dict(model.state_dict(), strict=True)
    assert count_parameters(model) == count_parameters(plain)
    assert count_view_flops(model) == count_view_flops(plain)


def test_non_mergeable_methods_stay_after_merge():
    model = build(METHODS['AIM']).eval()
    merge_adapters(model)
    assert model.method_cfg['type'] == 'AIM'
    assert model.transformer.resblocks[0].peft is not None


def test_lora_merge_through_the_hook_path_with_plain_model():
    """merge_and_verify (what MergeAdaptersHook runs) with the plain model of
    the config (peft=None): same keys and shapes, same logits."""
    cfg = tiny_recognizer_cfg(
        'lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb')
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    randomize(model)
    plain = build_plain_model(cfg.model)
    assert plain.backbone.method is None
    batches = [torch.randn(2, 1, 3, FRAMES, 32, 32) for _ in range(2)]
    merged, report = merge_and_verify(
        model, batches, tolerance=1e-5, plain=plain, count_complexity=False)
    assert report['passed'] and report['max_abs_diff'] <= 1e-5
    assert report['adapted_linears_before'] == 4 * TINY_ARCH['layers']


TINY_OPTIONS = [
    *(f'model.backbone.arch.{k}={v}' for k, v in TINY_ARCH.items()),
    f"model.cls_head.in_channels={TINY_ARCH['width']}",
    f'model.backbone.num_frames={FRAMES}'
]


@pytest.mark.parametrize('name', [
    'lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb',
    'temporal-heads_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb'
])
def test_merge_tool_merges_a_mergeable_baseline_checkpoint(name, tmp_path):
    """tools/merge_adapters.py takes the LoRA / temporal-heads configs (the
    adapters are None there): the merged file loads strictly into the plain
    model of the config (merged_config: adapters and peft None) and gives
    the unmerged model's logits."""
    from mmaction.registry import MODELS
    from zeroi2v_mm.reparam import merged_config

    from helpers import load_tool
    cfg = tiny_recognizer_cfg(name)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    randomize(model)
    checkpoint = str(tmp_path / 'trained.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = str(tmp_path / 'merged.pth')
    tool = load_tool('tools/merge_adapters.py')
    assert tool.main([
        sorted(
            glob.glob(
                osp.join(REPO, 'configs', '**', f'{name}.py'),
                recursive=True))[0], checkpoint, '--out', out, '--verify', '0',
        '--device', 'cpu', '--cfg-options', *TINY_OPTIONS
    ]) == 0
    deploy_cfg = merged_config(cfg)
    assert deploy_cfg.model.backbone.peft is None
    assert not deploy_cfg.custom_hooks
    plain = MODELS.build(deploy_cfg.model).eval()
    state = torch.load(out, weights_only=False)['state_dict']
    plain.load_state_dict(state, strict=True)
    inputs = torch.randn(2, 1, 3, FRAMES, 32, 32)
    from zeroi2v_mm.utils.complexity import recognizer_logits
    with torch.no_grad():
        torch.testing.assert_close(
            recognizer_logits(plain, inputs),
            recognizer_logits(model, inputs),
            atol=1e-5,
            rtol=1e-5)


def test_non_mergeable_baselines_are_refused_by_the_merge_paths(tmp_path):
    """AIM, ST-Adapter and GELU adapters stay at inference: the merge tool,
    the hook (before training, not after it) and build_plain_model say so
    instead of failing on a structure mismatch."""
    from types import SimpleNamespace

    from zeroi2v_mm.engine.hooks import MergeAdaptersHook

    from helpers import load_tool
    cfg = tiny_recognizer_cfg(
        'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb')
    with pytest.raises(ValueError, match="'AIM' does not merge"):
        build_plain_model(cfg.model)
    with pytest.raises(ValueError, match="'AIM' does not merge"):
        MergeAdaptersHook().before_train(SimpleNamespace(cfg=cfg))
    tool = load_tool('tools/merge_adapters.py')
    checkpoint = str(tmp_path / 'aim.pth')
    torch.save(dict(state_dict={}), checkpoint)
    with pytest.raises(SystemExit, match="peft='AIM' does not merge"):
        tool.main([
            osp.join(
                REPO, 'configs/recognition/aim/'
                'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py'),
            checkpoint, '--out',
            str(tmp_path / 'x.pth')
        ])


def test_baseline_checkpoints_are_refused_by_a_model_without_the_method():
    """MMEngine's loader only warns about unexpected keys: an unmerged LoRA
    checkpoint going into the plain model, or an AIM checkpoint into a model
    without AIM, must stop instead of silently dropping the method."""
    from mmengine.runner.checkpoint import load_state_dict

    from mmaction.registry import MODELS
    plain_cfg = tiny_recognizer_cfg(
        'lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb')
    plain_cfg.model.backbone.peft = None
    plain = MODELS.build(plain_cfg.model)
    lora = MODELS.build(
        tiny_recognizer_cfg(
            'lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb').model)
    with pytest.raises(
            ValueError,
            match=r'unmerged linear adapter \(or '
            r'LoRA.*tools/merge_adapters.py'):
        load_state_dict(plain, lora.state_dict())
    aim = MODELS.build(
        tiny_recognizer_cfg(
            'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb').model)
    with pytest.raises(ValueError, match='stays at inference'):
        load_state_dict(plain, aim.state_dict())
    # the same method loads, and so does the image model into a fresh LoRA
    load_state_dict(lora, lora.state_dict(), strict=True)
    lora.backbone.load_state_dict(plain.backbone.state_dict(), strict=False)
