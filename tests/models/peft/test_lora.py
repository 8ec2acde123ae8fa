"""LoRA and temporal-heads-only tuning (zeroi2v_mm/models/peft/lora.py):
LoRA computes its definition (per Q / K / V chunk with split_qkv), the
Table 3 LoRA configs have their row's parameters, and a temporal-heads step
changes only the temporal heads' slices (4.6M tunable on ViT-B/16)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.models.peft import LoRALinear
from zeroi2v_mm.reparam import merge_adapters

from helpers import REPO, TINY_ARCH
from helpers.peft import METHODS, STDHA, build, clips

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')


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
