"""Linear adapters: identity at start, trainable set, exact merge."""
import pytest
import torch

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.reparam import count_adapted_linears, merge_adapters

from helpers import randomize_adapters


def test_fresh_adapters_are_identity(tiny_arch):
    torch.manual_seed(0)
    plain = ZeroI2VViT(arch=tiny_arch, num_frames=4).eval()
    adapted = ZeroI2VViT(
        arch=tiny_arch, num_frames=4, adapters=dict(scale=0.5,
                                                    dropout=0.1)).eval()
    missing, unexpected = adapted.load_state_dict(
        plain.state_dict(), strict=False)
    assert not unexpected and all('adapter' in k for k in missing)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(plain(x), adapted(x), atol=1e-6)


def test_adapter_init_is_the_released_one():
    """Down-projection trunc-normal std 0.02 with zero bias (the released
    code's D_fc1), up-projection zero (identity at start)."""
    from zeroi2v_mm.models.layers import LinearAdapter
    torch.manual_seed(0)
    adapter = LinearAdapter(768, ratio=0.25)
    down = adapter.down.weight
    assert down.shape == (192, 768)
    assert abs(down.std().item() - 0.02) < 0.0005
    assert abs(down.mean().item()) < 0.0005
    assert torch.all(adapter.down.bias == 0)
    assert torch.all(adapter.up.weight == 0) and torch.all(
        adapter.up.bias == 0)


@pytest.mark.parametrize('num_adapters,expected_per_block', [(4, 4), (6, 6)])
def test_adapter_placement_counts(tiny_arch, num_adapters, expected_per_block):
    from zeroi2v_mm.models.layers import LinearAdapter
    model = ZeroI2VViT(
        arch=tiny_arch, num_frames=2, adapters=dict(num_adapters=num_adapters))
    block = model.transformer.resblocks[0]
    assert sum(isinstance(m, LinearAdapter)
               for m in block.modules()) == expected_per_block
    assert len(block.attn.in_proj.input_adapters) == num_adapters - 3


def test_only_adapters_temporal_embedding_ln_post_train(tiny_arch):
    model = ZeroI2VViT(arch=tiny_arch, num_frames=2, adapters=dict())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert 'temporal_embedding' in trainable
    assert {'ln_post.weight', 'ln_post.bias'} <= trainable
    assert all('adapter' in n for n in trainable
               if n not in ('temporal_embedding', 'ln_post.weight',
                            'ln_post.bias'))
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert 'conv1.weight' in frozen and 'positional_embedding' in frozen
    assert 'transformer.resblocks.0.attn.in_proj.weight' in frozen
    full = ZeroI2VViT(arch=tiny_arch, num_frames=2, freeze_pretrained=False)
    assert all(p.requires_grad for p in full.parameters())


def test_trainable_parameters_vit_b16_k400_config():
    """Paper: 14M tunable for ViT-B/16 with 4 adapters (ours 14.21M)."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    backbone_cfg = dict(cfg.model.backbone, pretrained=None)
    backbone_cfg.pop('type')
    model = ZeroI2VViT(**backbone_cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert abs(trainable - 14.2e6) <= 0.1e6, trainable


def test_trainable_parameters_vit_l14():
    model = ZeroI2VViT(
        arch='ViT-L/14', num_frames=8, adapters=dict(num_adapters=4))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert abs(trainable - 50.4e6) <= 0.1e6, trainable


@pytest.mark.parametrize('num_adapters', [4, 6])
@pytest.mark.parametrize('scale,dropout', [(0.5, 0.1), (1.0, 0.0)])
@pytest.mark.parametrize('stdha', [None, dict(offsets={1: 1, -1: 1, 2: 1})])
def test_merged_equals_unmerged(tiny_arch, num_adapters, scale, dropout,
                                stdha):
    torch.manual_seed(0)
    model = ZeroI2VViT(
        arch=tiny_arch,
        num_frames=4,
        stdha=stdha,
        adapters=dict(num_adapters=num_adapters, scale=scale,
                      dropout=dropout)).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        identity_adapters = model(x)
    randomize_adapters(model)
    with torch.no_grad():
        before = model(x)
    # the adapters change the function, so the merge has real work to do
    assert (before - identity_adapters).abs().max() > 1e-3
    with torch.no_grad():
        merge_adapters(model)
        after = model(x)
    assert count_adapted_linears(model) == 0
    assert (before - after).abs().max() <= 1e-5
    plain = ZeroI2VViT(arch=tiny_arch, num_frames=4, stdha=stdha).eval()
    assert set(plain.state_dict()) == set(model.state_dict())
    plain.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.allclose(plain(x), after, atol=1e-6)
