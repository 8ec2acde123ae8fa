"""The comparison methods of ZeroI2V Tables 3 / 4 (``ZeroI2VViT(peft=...)``):
AIM, ST-Adapter, LoRA, GELU adapters, temporal-heads-only tuning, and the
baseline configs. Costs are counted by the library counter
(:mod:`zeroi2v_mm.utils.complexity`), not by formulas."""
import glob
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.models.peft import (AIMAdapters, HeadDeltaLinear, LoRALinear,
                                    STAdapter)
from zeroi2v_mm.reparam import (build_plain_model, count_adapted_linears,
                                merge_adapters, merge_and_verify)
from zeroi2v_mm.utils.complexity import count_parameters, count_view_flops

from helpers import REPO, TINY_ARCH

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')

STDHA = dict(offsets={1: 1, -1: 1})
FRAMES = 4
METHODS = {
    'AIM':
    dict(peft=dict(type='AIM')),
    'AIM_1_tadapter':
    dict(peft=dict(type='AIM', num_tadapter=1)),
    'STAdapter':
    dict(peft=dict(type='STAdapter')),
    'STAdapter_attn_mlp':
    dict(peft=dict(type='STAdapter', positions=('attn', 'mlp'))),
    'GELUAdapter':
    dict(peft=dict(type='GELUAdapter', scale=0.5, dropout=0.1)),
    'LoRA':
    dict(peft=dict(type='LoRA', rank=4, alpha=2)),
    'LoRA_split_qkv':
    dict(peft=dict(type='LoRA', rank=4, alpha=2, split_qkv=True)),
    'TemporalHeads':
    dict(peft=dict(type='TemporalHeads')),
}
# Trainable parameters besides temporal_embedding and ln_post: name markers.
MARKERS = {
    'AIM': '.peft.',
    'STAdapter': '.peft.',
    'GELUAdapter': '.peft.',
    'LoRA': '.lora_',
    'TemporalHeads': '.head_delta_'
}


def build(options, stdha=STDHA, **kwargs):
    return ZeroI2VViT(
        arch=TINY_ARCH, num_frames=FRAMES, stdha=stdha, **options, **kwargs)


def randomize(model, names=('.peft.', '.lora_', '.head_delta_'), std=0.05):
    """Non-zero values for the method's parameters (they start at zero)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if any(marker in name for marker in names):
                param.copy_(
                    torch.randn(param.shape, generator=generator) * std)


def clips(batch=2):
    return torch.randn(
        batch, 3, FRAMES, 32, 32, generator=torch.Generator().manual_seed(1))


# ------------------------------------------------------------- build/init
@pytest.mark.parametrize('method', list(METHODS))
def test_builds_runs_and_starts_as_the_plain_model(method):
    """Every method is zero-initialised where the paper says so: before any
    training the model computes exactly what the plain model (same weights,
    same STDHA) computes; outputs keep the backbone's shapes."""
    torch.manual_seed(0)
    plain = build({}).eval()
    model = build(METHODS[method]).eval()
    missing, unexpected = model.load_state_dict(
        plain.state_dict(), strict=False)
    assert not unexpected
    assert missing and all(
        any(m in k for m in MARKERS.values()) or 'peft.' in k for k in missing)
    x = clips()
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, TINY_ARCH['width'], FRAMES, 1, 1)
        torch.testing.assert_close(out, plain(x), atol=1e-6, rtol=0)
    # after training-like changes it is no longer the plain model
    randomize(model)
    with torch.no_grad():
        assert (model(x) - plain(x)).abs().max() > 1e-4
    # and gradients reach the method's parameters
    model.train()
    model(x).sum().backward()
    grads = [
        p.grad for n, p in model.named_parameters()
        if any(m in n for m in MARKERS.values())
    ]
    assert grads and all(g is not None for g in grads)


@pytest.mark.parametrize('method', list(METHODS))
def test_trainable_set_is_method_temporal_embedding_ln_post(method):
    model = build(METHODS[method])
    marker = MARKERS[METHODS[method]['peft']['type']]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {n for n, _ in model.named_parameters() if marker in n}
    assert expected
    assert trainable == expected | {
        'temporal_embedding', 'ln_post.weight', 'ln_post.bias'
    }
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    for name in ('conv1.weight', 'positional_embedding',
                 'transformer.resblocks.0.attn.in_proj.weight',
                 'transformer.resblocks.0.mlp.c_fc.weight'):
        assert name in frozen
    # freeze_pretrained=False: everything trains, the method included
    full = build(METHODS[method], freeze_pretrained=False)
    assert all(p.requires_grad for p in full.parameters())


def tiny_recognizer_cfg(name):
    """configs/recognition/*/<name>.py with the tiny ViT (random weights)."""
    cfg = Config.fromfile(
        sorted(
            glob.glob(
                osp.join(REPO, 'configs', '**', f'{name}.py'),
                recursive=True))[0])
    cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.model.backbone.pretrained = None
    cfg.model.cls_head.in_channels = TINY_ARCH['width']
    cfg.model.backbone.num_frames = FRAMES
    return cfg


def test_head_trains_in_the_recognizer_of_a_baseline_config():
    cfg = tiny_recognizer_cfg(
        'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb')
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    assert all(p.requires_grad for p in model.cls_head.parameters())


def test_bad_peft_options_are_refused():
    with pytest.raises(ValueError, match='replaces the linear adapters'):
        build(dict(peft=dict(type='LoRA'), adapters=dict()))
    with pytest.raises(ValueError, match="type in"):
        build(dict(peft=dict(type='Prompt')))
    with pytest.raises(ValueError, match='stdha'):
        build(dict(peft=dict(type='TemporalHeads')), stdha=None)
    with pytest.raises(ValueError, match='num_tadapter'):
        build(dict(peft=dict(type='AIM', num_tadapter=3)))
    with pytest.raises(ValueError, match='positions'):
        build(dict(peft=dict(type='STAdapter', positions=('ffn', ))))
    with pytest.raises(ValueError, match='targets'):
        build(dict(peft=dict(type='LoRA', targets=('q_proj', ))))


# ------------------------------------------------------------------- AIM
def test_aim_temporal_branch_is_attention_over_frames_per_token():
    """AIM's temporal pass = the block's own ln_1 + attention (same weights)
    over the T frames of each token position, between its T-adapters;
    checked against a per-clip, per-token loop."""
    model = build(METHODS['AIM'], stdha=None).eval()
    randomize(model)
    block = model.transformer.resblocks[0]
    peft = block.peft
    assert isinstance(peft, AIMAdapters)
    batch, tokens, width = 2, 17, TINY_ARCH['width']
    x = torch.randn(batch * FRAMES, tokens, width)
    with torch.no_grad():
        got = peft.temporal(block, x).view(batch, FRAMES, tokens, width)
        heads = TINY_ARCH['heads']
        weight, bias = block.attn.in_proj.weight, block.attn.in_proj.bias
        clip = x.view(batch, FRAMES, tokens, width)
        for b in range(batch):
            for n in range(tokens):
                seq = peft.t_adapter_in(block.ln_1(clip[b, :, n]))  # (T, C)
                q, k, v = F.linear(seq, weight, bias).chunk(3, dim=-1)
                q, k, v = (
                    t.view(FRAMES, heads, -1).transpose(0, 1)
                    for t in (q, k, v))
                att = (q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]))
                out = (att.softmax(-1) @ v).transpose(0, 1).reshape(
                    FRAMES, width)
                want = peft.t_adapter(block.attn.out_proj(out))
                torch.testing.assert_close(
                    got[b, :, n], want, atol=1e-5, rtol=1e-5)


def test_aim_adapters_have_and_lack_skips_as_the_paper():
    peft = build(METHODS['AIM']).transformer.resblocks[0].peft
    assert peft.t_adapter_in.skip and peft.s_adapter.skip
    assert not peft.t_adapter.skip and not peft.mlp_adapter.skip
    assert peft.mlp_adapter.scale == 0.5
    hidden = int(TINY_ARCH['width'] * 0.25)
    assert peft.s_adapter.fc1.out_features == hidden
    assert torch.all(peft.s_adapter.fc2.weight == 0)


# ------------------------------------------------------------ ST-Adapter
def test_st_adapter_convolves_patch_tokens_over_neighbouring_frames():
    adapter = STAdapter(16, num_frames=FRAMES, grid_size=(2, 2), channels=8)
    with torch.no_grad():
        adapter.conv.weight.normal_()
        adapter.fc2.weight.normal_()
    x = torch.randn(2 * FRAMES, 5, 16)
    y = adapter(x)
    torch.testing.assert_close(y[:, 0], x[:, 0])  # CLS bypasses
    changed = x.clone()
    changed[0, 1:] += 1.0  # clip 0, frame 0
    delta = (adapter(changed) - y).abs().amax(dim=(1, 2))
    # kernel (3, 1, 1): frames 0 and 1 of clip 0 change, nothing else
    assert delta[0] > 0 and delta[1] > 0
    assert torch.all(delta[2:] == 0)
    assert adapter.conv.groups == 8 and adapter.conv.kernel_size == (3, 1, 1)


def test_aim_drop_path_only_on_temporal_and_mlp_adapter_branches():
    """As AIM's released block: with every droppable branch dropped, the
    block is the image block with its S-adapter (attention and MLP always
    run)."""
    model = build(METHODS['AIM'], stdha=None, drop_path_rate=0.5)
    randomize(model)
    block = model.transformer.resblocks[-1]
    peft = block.peft

    class DropAll(torch.nn.Module):

        def forward(self, t):
            return torch.zeros_like(t)

    block.drop_path = DropAll()  # drop every droppable branch
    x = torch.randn(2 * FRAMES, 17, TINY_ARCH['width'])
    with torch.no_grad():
        got = block(x)  # AIMBlock.forward
        x1 = x + peft.s_adapter(block.attn(block.ln_1(x)))
        want = x1 + block.mlp(block.ln_2(x1))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_st_adapter_placement_as_released():
    """Default (the released K400 model): one adapter, before the MLP;
    the SSv2 config: before the attention and before the MLP, 384 wide."""
    from zeroi2v_mm.models.peft.st_adapter import STAdapters
    default = STAdapters(16, FRAMES, (2, 2), channels=8)
    assert default.attn_adapter is None and default.mlp_adapter is not None
    block = build(METHODS['STAdapter'], stdha=None).transformer.resblocks[0]
    assert block.peft.attn_adapter is None
    x = torch.randn(FRAMES, 17, TINY_ARCH['width'])
    # the adapter sees the stream after the attention: changing what the
    # attention adds changes the adapter's input
    randomize(block)
    with torch.no_grad():
        calls = []
        hook = block.peft.mlp_adapter.register_forward_hook(
            lambda m, i, o: calls.append(i[0].clone()))
        block(x)
        hook.remove()
        attn_out = block.attn(block.ln_1(x))
    torch.testing.assert_close(calls[0], x + attn_out, atol=1e-6, rtol=1e-6)
    k400 = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/st_adapter/'
            'st-adapter_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    ).model.backbone
    ssv2 = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/st_adapter/'
            'st-adapter_clip-vit-base-p16_u8-50e_sthv2-rgb.py')).model.backbone
    assert tuple(k400.peft.positions) == ('mlp', )
    assert tuple(ssv2.peft.positions) == ('attn', 'mlp')
    assert k400.peft.channels == ssv2.peft.channels == 384


# ----------------------------------------------------------- LoRA, merge
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


def test_lora_matches_its_definition():
    layer = LoRALinear(6, 5, rank=2, alpha=4)
    with torch.no_grad():
        layer.lora_up.weight.normal_()
    x = torch.randn(3, 6)
    want = x @ (layer.weight + 2.0 *
                layer.lora_up.weight @ layer.lora_down.weight).T + layer.bias
    torch.testing.assert_close(layer(x), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.folded()(x), want, atol=1e-5, rtol=1e-5)


def test_lora_split_qkv_is_one_update_per_chunk():
    layer = LoRALinear(6, 9, rank=2, alpha=4, chunks=3)
    with torch.no_grad():
        layer.lora_up.weight.normal_()
    x = torch.randn(3, 6)
    weight = layer.weight.clone()
    for c in range(3):  # Q, K, V: B_c A_c on their own rows
        weight[3 * c:3 * c + 3] += 2.0 * (
            layer.lora_up.weight[3 * c:3 * c + 3]
            @ layer.lora_down.weight[2 * c:2 * c + 2])
    want = x @ weight.T + layer.bias
    torch.testing.assert_close(layer(x), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.folded()(x), want, atol=1e-5, rtol=1e-5)
    # r * (3 * in + out) parameters
    assert sum(p.numel() for n, p in layer.named_parameters()
               if 'lora' in n) == 2 * (3 * 6 + 9)


TABLE3_LORA = {  # config -> (Table 3 tunable params in M, bottleneck width)
    'lora-r192-qkv_clip-vit-base-p16_u8-50e_sthv2-rgb': (7, 192),
    'lora-r192-qkvo_clip-vit-base-p16_u8-50e_sthv2-rgb': (14, 192),
    'lora-r192-qkv-mlp_clip-vit-base-p16_u8-50e_sthv2-rgb': (25, 192),
    'lora-r128-qkv-mlp_clip-vit-base-p16_u8-50e_sthv2-rgb': (17, 128),
    'lora-r192-all_clip-vit-base-p16_u8-50e_sthv2-rgb': (32, 192),
    'lora-r128-all_clip-vit-base-p16_u8-50e_sthv2-rgb': (21, 128)
}


@pytest.mark.parametrize('name', list(TABLE3_LORA))
def test_lora_configs_have_the_parameters_of_their_table3_row(
        name, monkeypatch):
    for init in ('normal_', 'uniform_', 'trunc_normal_', 'kaiming_uniform_'):
        monkeypatch.setattr(torch.nn.init, init, lambda t, *a, **k: t)
    cfg = Config.fromfile(
        sorted(
            glob.glob(
                osp.join(REPO, 'configs', '**', f'{name}.py'),
                recursive=True))[0])
    backbone = cfg.model.backbone.to_dict()
    backbone.pop('type')
    backbone['pretrained'] = None
    model = ZeroI2VViT(**backbone)
    millions, width = TABLE3_LORA[name]
    lora = sum(p.numel() for n, p in model.named_parameters()
               if '.lora_' in n and p.requires_grad)
    assert round(lora / 1e6) == millions, lora
    assert cfg.model.backbone.peft.rank == width
    assert [tuple(pair)
            for pair in cfg.model.backbone.stdha.offsets] == [(-1, 1), (1, 1)]


# ------------------------------------------------- temporal heads only
def test_temporal_heads_only_their_slices_change_after_a_step():
    """One AdamW step (with weight decay) on the whole trainable set: of the
    frozen ViT's effective weights, only the temporal heads' Q/K/V rows (and
    bias entries) of the in-projection and their out-projection columns
    change; 2 temporal heads of 4 here."""
    torch.manual_seed(0)
    model = build(METHODS['TemporalHeads'])
    # the updates start at zero: the effective weights are the frozen ones
    before = {
        k: v.clone()
        for k, v in model.state_dict().items() if '.head_delta_' not in k
    }
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=1e-2,
        weight_decay=0.05)
    model(clips()).square().mean().backward()
    optimizer.step()
    after = merge_adapters(model).state_dict()
    width, heads = TINY_ARCH['width'], TINY_ARCH['heads']
    temporal = 2 * width // heads  # channels of the 2 temporal heads
    rows = torch.zeros(3 * width, dtype=torch.bool)
    for chunk in range(3):
        rows[chunk * width:chunk * width + temporal] = True
    for key, value in after.items():
        changed = value != before[key]
        if key.endswith('attn.in_proj.weight'):
            assert changed[rows].any() and not changed[~rows].any(), key
        elif key.endswith('attn.in_proj.bias'):
            assert changed[rows].any() and not changed[~rows].any(), key
        elif key.endswith('attn.out_proj.weight'):
            assert changed[:, :temporal].any(), key
            assert not changed[:, temporal:].any(), key
        elif key in ('temporal_embedding', 'ln_post.weight', 'ln_post.bias'):
            continue
        else:
            assert not changed.any(), key


def test_temporal_heads_trainable_count_vit_b16():
    """Paper Table 3: 4.6M tunable for "only tuning temporal head" (ViT-B,
    2 of 12 heads); ours 4.72M in the blocks (q/k/v rows with bias + out
    columns)."""
    model = ZeroI2VViT(
        arch='ViT-B/16',
        num_frames=8,
        stdha=STDHA,
        peft=dict(type='TemporalHeads'))
    in_blocks = sum(p.numel() for n, p in model.named_parameters()
                    if '.head_delta_' in n)
    assert in_blocks == 12 * (3 * 128 * 768 + 3 * 128 + 768 * 128)
    assert abs(in_blocks - 4.6e6) / 4.6e6 < 0.03


# ------------------------------------------------------------- ViT-B costs
# ViT-B/16 at 224 px, every block, but 2 frames instead of 8 to keep the
# traced forward passes short: per frame the costs do not depend on T except
# AIM's T x T temporal attention scores (2 T C MACs per token and block,
# 0.1% of a block at T = 8), so the ratios are the 8-frame ones to 0.2%.
# tools/benchmark.py --counts-only on the K400 baseline configs gives the
# 8-frame figures (README).
VIT_B_FRAMES = 2


@pytest.fixture(scope='module')
def vit_b_plain():
    model = ZeroI2VViT(arch='ViT-B/16', num_frames=VIT_B_FRAMES)
    return count_view_flops(model), count_parameters(model)


@pytest.mark.parametrize(
    'peft,paper_ratio,new_params', [
        (dict(type='AIM', num_tadapter=2), 624 / 422, 14.2e6),
        (dict(type='STAdapter', channels=384), 455 / 422, 7.1e6),
        (dict(type='GELUAdapter'), None, 14.2e6),
    ],
    ids=['AIM', 'STAdapter', 'GELUAdapter'])
def test_vit_b16_costs_match_the_papers(vit_b_plain, peft, paper_ratio,
                                        new_params):
    """ZeroI2V Table 4, ViT-B/16: AIM 624 and ST-Adapter 455 GFLOPs vs 422
    for the image ViT (8x1x3 views), within 3%; new parameters 14M and 7M.
    Dense GELU adapters: as many parameters as the 4 linear adapters
    (14.2M), which do not stay after merging."""
    plain_flops, plain_params = vit_b_plain
    model = ZeroI2VViT(arch='ViT-B/16', num_frames=VIT_B_FRAMES, peft=peft)
    ratio = count_view_flops(model) / plain_flops
    if paper_ratio is not None:
        assert abs(ratio / paper_ratio - 1) <= 0.03, ratio
    else:  # 4 bottlenecks of C/4 per block: 2 C^2 of ~12.6 C^2 MACs/token
        assert 1.14 < ratio < 1.18, ratio
    new = count_parameters(model) - plain_params
    assert abs(new / new_params - 1) <= 0.03, new


# --------------------------------------------------------------- configs
BASELINES = ('aim', 'st_adapter', 'lora', 'gelu_adapter', 'full_finetune',
             'linear_probe', 'temporal_heads')


@pytest.mark.parametrize('name', BASELINES)
@pytest.mark.parametrize('suffix', ['k400', 'synthetic'])
def test_baseline_configs_say_what_they_are(name, suffix):
    tail = {
        'k400': 'clip-vit-base-p16_8x16x1-40e_kinetics400',
        'synthetic': 'synthetic-vit-tiny-p16_8x2x1-20e_synthetic'
    }[suffix]
    found = glob.glob(
        osp.join(REPO, 'configs', 'recognition', name, f'*_{tail}-rgb.py'))
    assert len(found) == 1, (name, suffix, found)
    path = found[0]
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    peft = (backbone.get('peft') or {}).get('type')
    merges = peft in ('LoRA', 'TemporalHeads')
    assert ('MergeAdaptersHook' in hooks) == merges, hooks
    if peft is not None or name in ('full_finetune', 'linear_probe'):
        assert backbone.adapters is None
    # the ZeroI2V config the baseline is compared with (its _base_)
    base = Config.fromfile(
        osp.join(
            REPO, 'configs', {
                'k400': 'recognition/zeroi2v/'
                'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
                'synthetic': 'demo/zeroi2v_synthetic.py'
            }[suffix]))
    base_lr = base.optim_wrapper.optimizer.lr
    if name == 'full_finetune':
        assert backbone.freeze_pretrained is False
        assert math.isclose(cfg.optim_wrapper.optimizer.lr, base_lr / 10)
        assert backbone.stdha is not None
    else:
        assert backbone.freeze_pretrained is True
        assert math.isclose(cfg.optim_wrapper.optimizer.lr, base_lr)
    if name == 'linear_probe':
        assert backbone.stdha is None
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        assert keys['temporal_embedding']['lr_mult'] == 0
        assert keys['ln_post']['lr_mult'] == 0
    if name in ('aim', 'st_adapter'):
        assert backbone.stdha is None  # their own temporal modules
    if name in ('lora', 'gelu_adapter', 'temporal_heads'):
        assert backbone.stdha is not None  # as ZeroI2V (Table 3)
