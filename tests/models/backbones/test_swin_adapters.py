"""ZeroI2VSwin with adapters: only they (and the output norm) train, through
STDHA and gradient checkpointing; merging is exact and gives the plain
Swin, through merge_and_verify, tools/merge_adapters.py and
MergeAdaptersHook; the ViT's linear-only methods (LoRA, SSF) work on Swin
through the same calls, and the block-variant ones are refused."""
import json

import pytest
import torch

from mmaction.registry import MODELS
from zeroi2v_mm.reparam import (build_plain_model, check_same_structure,
                                merge_and_verify)
from zeroi2v_mm.utils.complexity import count_parameters, count_view_flops

from helpers.swin import (ARCH, SIZE, WINDOW, build_swin, clip, randomize,
                          save_mmpretrain_classifier, swin_recognizer_cfg)


# ------------------------------------------------------------------ adapters
def test_frozen_model_trains_adapters_and_output_norm_only():
    model = build_swin(adapters=dict(ratio=0.25), temporal_embedding=True)
    trainable = {
        name
        for name, p in model.named_parameters() if p.requires_grad
    }
    assert 'temporal_embedding' in trainable
    assert {'norm1.weight', 'norm1.bias'} <= trainable  # the output norm
    others = trainable - {'temporal_embedding', 'norm1.weight', 'norm1.bias'}
    assert others and all('_adapter' in name for name in others)
    # 4 adapted linears per block, 4 blocks, each adapter down+up with bias
    assert len([n for n in others if n.endswith('down.weight')]) == 16
    # the adapted linears hold the pretrained weights themselves
    qkv = model.stages[0].blocks[0].attn.w_msa.qkv
    assert not qkv.weight.requires_grad and qkv.mergeable


@pytest.mark.parametrize('with_cp', [False, True])
def test_training_step_reaches_adapters_only(with_cp):
    """Gradients reach the adapters, the temporal embedding and the output
    norm, through STDHA's in-place time shift (and gradient checkpointing);
    the frozen Swin gets none."""
    model = build_swin(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1), (-1, 1)]]),
        adapters=dict(scale=1.0),
        temporal_embedding=True,
        with_cp=with_cp,
        img_size=32)
    randomize(model)  # (values only: the Swin stays frozen)
    model.train()
    model(clip(size=32)).square().mean().backward()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name


def test_gradient_checkpointing_changes_nothing():
    torch.manual_seed(0)
    plain = build_swin(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1)]]),
        adapters=dict(scale=1.0),
        img_size=32)
    randomize(plain)
    checkpointed = build_swin(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1)]]),
        adapters=dict(scale=1.0),
        img_size=32,
        with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    grads = []
    for model in (plain, checkpointed):
        model.eval()  # no dropout: both runs see the same function
        model(clip(size=32)).sum().backward()
        grads.append({
            n: p.grad
            for n, p in model.named_parameters() if p.requires_grad
        })
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name])


def test_merge_is_exact_and_gives_the_plain_swin():
    cfg = dict(
        type='ZeroI2VSwin',
        arch=ARCH,
        num_frames=4,
        img_size=SIZE,
        window_size=WINDOW,
        tubelet=2,
        stdha=dict(offsets=[[(-1, 1)], [(-1, 1), (1, 1)]]),
        adapters=dict(ratio=0.25, scale=0.5, dropout=0.1))
    model = MODELS.build(cfg)
    randomize(model)
    plain = build_plain_model(cfg)
    batches = [clip(seed=seed) for seed in (1, 2)]
    merged, report = merge_and_verify(
        model,
        batches,
        tolerance=1e-5,
        plain=plain,
        input_shape=(3, 4, SIZE, SIZE))
    assert report['passed'] and report['max_abs_diff'] <= 1e-5
    assert report['adapted_linears_before'] == 16
    assert report['adapted_linears_after'] == 0
    check_same_structure(merged, plain)
    assert count_parameters(merged) == count_parameters(plain)
    assert report['params']['after'] == report['params']['plain']
    assert report['params']['before'] > report['params']['after']
    assert report['gflops_per_view']['after'] < report['gflops_per_view'][
        'before']
    assert count_view_flops(merged) == count_view_flops(plain)
    # the merged state dict loads into the plain model, which agrees
    plain.load_state_dict(merged.state_dict())
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(batches[0]), merged(batches[0]))


def test_merge_tool_writes_the_plain_swin(tmp_path):
    """tools/merge_adapters.py on a tiny ZeroI2V Swin recognizer: the merged
    checkpoint loads strictly into the config's plain model (adapters=None),
    which gives the unmerged model's logits."""
    from mmengine.config import Config

    from helpers import load_tool
    model_cfg = swin_recognizer_cfg(
        tubelet=2, adapters=dict(ratio=0.25, scale=0.5, dropout=0.1))
    config = tmp_path / 'swin_tiny.py'
    Config(dict(model=model_cfg, custom_imports=dict(
        imports=['zeroi2v_mm']))).dump(str(config))
    model = MODELS.build(model_cfg).eval()
    randomize(model)
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    out = tmp_path / 'merged.pth'
    tool = load_tool('tools/merge_adapters.py')
    assert tool.main([
        str(config),
        str(checkpoint), '--out',
        str(out), '--verify', '0', '--device', 'cpu'
    ]) == 0
    plain = build_plain_model(model_cfg).eval()
    state = torch.load(out, map_location='cpu', weights_only=True)
    plain.load_state_dict(state['state_dict'], strict=True)
    assert count_parameters(plain) < count_parameters(model)
    inputs = clip(batch=2, size=32)[:, None]  # (N, views, 3, T, H, W)
    with torch.no_grad():
        want = model.cls_head(model.extract_feat(inputs, test_mode=True)[0])
        got = plain.cls_head(plain.extract_feat(inputs, test_mode=True)[0])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_merge_hook_writes_the_plain_swin(tmp_path):
    """MergeAdaptersHook.merge on a runner holding a tiny ZeroI2V Swin
    recognizer: verified on a batch, written, loadable into the plain
    model."""
    import types

    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from zeroi2v_mm.engine.hooks import MergeAdaptersHook
    model_cfg = swin_recognizer_cfg(
        stdha=dict(offsets=[[(-1, 1)], [(1, 1), (-1, 1)]]),
        adapters=dict(ratio=0.25, scale=1.0))
    model = MODELS.build(model_cfg).eval()
    randomize(model)
    runner = types.SimpleNamespace(
        model=model,
        cfg=Config(dict(model=model_cfg)),
        work_dir=str(tmp_path),
        epoch=1,
        iter=1,
        logger=MMLogger.get_instance('swin_merge_hook'),
        val_loop=types.SimpleNamespace(
            dataloader=[clip(batch=2, size=32)[:, None]]))
    hook = MergeAdaptersHook(verify_batches=1, count_flops=False)
    path = hook.merge(runner)
    report = json.load(open(path[:-len('.pth')] + '.json'))
    assert report['passed'] and report['max_abs_diff'] <= 1e-5
    plain = build_plain_model(model_cfg)
    plain.load_state_dict(torch.load(path, weights_only=True)['state_dict'])


SWIN_METHODS = {
    'adapters-6': dict(adapters=dict(num_adapters=6, scale=0.5)),
    'LoRA': dict(peft=dict(type='LoRA', rank=4, split_qkv=True)),
    'SSF': dict(peft=dict(type='SSF')),
}


@pytest.mark.parametrize('method', sorted(SWIN_METHODS))
def test_linear_methods_on_swin_merge_save_small_and_export(method, tmp_path):
    """The ViT's linear-only methods through the same PEFTMethod calls on
    Swin: only their updates train; merged == unmerged (the merge tool,
    loading into the plain Swin); a small checkpoint (SmallCheckpointHook)
    completes from the image model; the ONNX export verifies."""
    from types import SimpleNamespace

    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint

    from zeroi2v_mm.engine import SmallCheckpointHook
    from zeroi2v_mm.models.layers import AdaptedLinear
    from zeroi2v_mm.utils.small_checkpoint import make_small

    from helpers import load_tool
    image = str(tmp_path / 'image.pth')
    save_mmpretrain_classifier(image)
    model_cfg = swin_recognizer_cfg(pretrained=image, **SWIN_METHODS[method])
    config = str(tmp_path / 'swin_tiny.py')
    Config(dict(model=model_cfg,
                custom_imports=dict(imports=['zeroi2v_mm']))).dump(config)
    model = MODELS.build(model_cfg)
    model.init_weights()
    backbone = model.backbone
    trained = {n for n, p in backbone.named_parameters() if p.requires_grad}
    updates = {
        f'{name}.{param_name}'
        for name, module in backbone.named_modules()
        if isinstance(module, AdaptedLinear) and module.mergeable
        for param_name, _ in module.named_parameters()
        if param_name not in ('weight', 'bias')
    }
    assert updates and trained == updates | {'norm1.weight', 'norm1.bias'}
    torch.manual_seed(3)
    for param in model.parameters():  # "training": updates leave identity
        if param.requires_grad:
            param.data.add_(torch.randn_like(param) * 0.01)
    model.eval()

    # a small checkpoint: the frozen Swin left out, completed on load
    entries = SmallCheckpointHook()._check(
        SimpleNamespace(model=model, logger=MMLogger.get_instance('swin')))
    checkpoint = dict(meta={}, state_dict=model.state_dict())
    assert make_small(checkpoint, entries) > 0
    small = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(checkpoint, small)
    fresh = MODELS.build(
        dict(model_cfg, backbone=dict(model_cfg['backbone'], pretrained=None)))
    load_checkpoint(fresh, small, map_location='cpu', strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key

    # merged by the tool from the small checkpoint: the plain Swin, same
    # logits
    out = str(tmp_path / 'merged.pth')
    assert load_tool('tools/merge_adapters.py').main(
        [config, small, '--out', out, '--verify', '0', '--device', 'cpu']) == 0
    plain = build_plain_model(model_cfg).eval()
    plain.load_state_dict(
        torch.load(out, map_location='cpu', weights_only=True)['state_dict'],
        strict=True)
    inputs = clip(batch=2, size=32)[:, None]
    with torch.no_grad():
        want = model.cls_head(model.extract_feat(inputs, test_mode=True)[0])
        got = plain.cls_head(plain.extract_feat(inputs, test_mode=True)[0])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert (want -
            model.cls_head(plain.extract_feat(
                inputs, test_mode=True)[0]).detach()).abs().max() < 1e-4

    # exported from the small checkpoint (merged there), verified
    exported = str(tmp_path / 'swin.onnx')
    tool = load_tool('tools/deployment/export_onnx.py')
    assert tool.main([config, small, '--out', exported, '--verify']) == 0


def test_block_variant_methods_are_refused_on_swin():
    with pytest.raises(ValueError, match="'AIM' needs ZeroI2VViT's blocks"):
        build_swin(peft=dict(type='AIM'))
    with pytest.raises(ValueError, match='replaces the linear adapters'):
        build_swin(adapters=dict(), peft=dict(type='LoRA'))
