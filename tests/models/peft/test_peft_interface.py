"""The method interface of zeroi2v_mm.models.peft: adapters on any
nn.Linear, plain models hold plain nn.Linears, methods as Block variants,
one is_mergeable(cfg)."""
import pytest
import torch
import torch.nn as nn

from mmaction.registry import MODELS
from zeroi2v_mm.models.layers import AdaptedLinear, adapt_linear
from zeroi2v_mm.models.peft import (AdapterBlock, AIMBlock, GELUAdapterBlock,
                                    STAdapterBlock, is_mergeable)

from helpers import TINY_ARCH


def backbone(**kwargs):
    cfg = dict(
        type='ZeroI2VViT',
        arch=TINY_ARCH,
        num_frames=4,
        act='gelu',
        stdha=dict(offsets=[(-1, 1), (1, 1)]))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_adapt_linear_wraps_any_linear_sharing_its_parameters():
    linear = nn.Linear(16, 48)
    assert adapt_linear(linear) is linear  # nothing asked: unchanged
    wrapped = adapt_linear(
        linear, input_adapters=3, output_adapter=True, ratio=0.25, scale=0.5)
    assert isinstance(wrapped, AdaptedLinear)
    assert wrapped.weight is linear.weight and wrapped.bias is linear.bias
    keys = set(wrapped.state_dict())
    assert {'weight', 'bias'} <= keys
    assert {k.split('.')[0]
            for k in keys - {'weight', 'bias'}
            } == {'input_adapters', 'output_adapter'}
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in wrapped.update_parameters():
            param.copy_(0.1 * torch.randn(param.shape, generator=generator))
    x = torch.randn(5, 16)
    with torch.no_grad():
        folded = wrapped.eval().folded()
        assert type(folded) is nn.Linear
        torch.testing.assert_close(folded(x), wrapped(x), rtol=1e-5, atol=1e-6)


def test_plain_model_has_plain_linears():
    model = backbone()
    assert not any(isinstance(m, AdaptedLinear) for m in model.modules())
    assert model.method is None
    adapted = backbone(adapters=dict(num_adapters=3))
    block = adapted.transformer.resblocks[0]
    # 3 adapters: none after MLP fc2, which stays a plain nn.Linear
    assert type(block.mlp.c_proj) is nn.Linear
    assert isinstance(block.mlp.c_fc, AdaptedLinear)


@pytest.mark.parametrize('kind,variant', [('AIM', AIMBlock),
                                          ('STAdapter', STAdapterBlock),
                                          ('GELUAdapter', GELUAdapterBlock)])
def test_block_methods_are_block_variants(kind, variant):
    model = backbone(peft=dict(type=kind))
    blocks = model.transformer.resblocks
    assert all(type(block) is variant for block in blocks)
    assert issubclass(variant, AdapterBlock)
    # frozen: the image model; trained: the variant's own modules + video
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    peft = {
        f'transformer.resblocks.{i}.peft.{n}'
        for i, block in enumerate(blocks)
        for n, _ in block.peft.named_parameters()
    }
    assert trainable == peft | {
        'temporal_embedding', 'ln_post.weight', 'ln_post.bias'
    }


def test_freezing_reads_modules_not_names():
    """A parameter whose name looks like an adapter's but belongs to no
    method stays frozen (the former name test would have trained it)."""
    model = backbone(adapters=dict())
    model.ln_pre.register_parameter('input_adapters_probe',
                                    nn.Parameter(torch.zeros(1)))
    model._freeze_pretrained()
    assert not model.ln_pre.input_adapters_probe.requires_grad
    assert all(p.requires_grad for m in model.modules()
               if isinstance(m, AdaptedLinear) for p in m.update_parameters())
    assert not model.transformer.resblocks[0].attn.in_proj.weight.requires_grad


@pytest.mark.parametrize('backbone_cfg,expected', [
    (dict(adapters=dict(num_adapters=4)), True),
    (dict(adapters=None, peft=dict(type='LoRA', rank=4)), True),
    (dict(adapters=None, peft=dict(type='TemporalHeads')), True),
    (dict(adapters=None, peft=dict(type='AIM')), False),
    (dict(adapters=None, peft=dict(type='STAdapter')), False),
    (dict(adapters=None, peft=dict(type='GELUAdapter')), False),
    (dict(adapters=None), False),
])
def test_is_mergeable(backbone_cfg, expected):
    cfg = dict(type='ZeroI2VViT', **backbone_cfg)
    assert is_mergeable(cfg) is expected
    assert is_mergeable(dict(backbone=cfg)) is expected
    assert is_mergeable(dict(model=dict(backbone=cfg))) is expected


def test_is_mergeable_names_an_unknown_method():
    with pytest.raises(ValueError, match="'Nope'.*AIM"):
        is_mergeable(dict(backbone=dict(peft=dict(type='Nope'))))


def test_video_vit_extends_the_image_vit():
    """The image ViT is the base class; the video ViT adds the temporal
    embedding (and STDHA, methods, compression: no parameters of their own
    in the plain model)."""
    from zeroi2v_mm.models.backbones import ZeroI2VImageViT, ZeroI2VViT
    assert issubclass(ZeroI2VViT, ZeroI2VImageViT)
    image = ZeroI2VImageViT(arch=TINY_ARCH, act='gelu')
    assert not hasattr(image, 'temporal_embedding')
    assert not hasattr(image, 'compressors')
    video = backbone()
    assert set(video.state_dict()) - set(image.state_dict()) == {
        'temporal_embedding'
    }
    assert set(image.state_dict()) <= set(video.state_dict())


def test_pretrained_with_adapters_refused_by_a_plain_model(tmp_path):
    """What a model carries is read from its modules: a weights file with
    unmerged adapters cannot start a plain model, but starts an adapted
    one."""
    path = str(tmp_path / 'adapted.pth')
    torch.save(backbone(adapters=dict()).state_dict(), path)
    with pytest.raises(ValueError, match='holds unmerged linear adapters'):
        backbone(pretrained=path).init_weights()
    backbone(adapters=dict(), pretrained=path).init_weights()
