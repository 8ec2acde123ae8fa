"""Zero extra cost, counted by a library (MMEngine's fvcore port), not by a
hand formula: the merged backbone has the parameters and FLOPs of the plain
one, which is the image ViT plus a T x D temporal embedding; ViT-B/16 matches
the papers' 17.6 GFLOPs per frame and 140.7 per 8-frame view."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import parameter_count
from mmengine.config import Config

from mmaction.registry import MODELS
from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.reparam import build_plain_model, merge_adapters
from zeroi2v_mm.utils.complexity import (complexity, count_flops,
                                         count_parameters, count_view_flops)

from helpers import REPO, TINY_ARCH, randomize_adapters


class _Attention(nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_scaled_dot_product_attention_is_counted():
    """fvcore/MMEngine do not know SDPA: without the added handle attention
    would count as zero. q@k^T and attn@v: B*H*L*S*D + B*H*L*S*Dv MACs."""
    batch, heads, length, keys, dims = 2, 3, 5, 7, 4
    q = torch.randn(batch, heads, length, dims)
    k = torch.randn(batch, heads, keys, dims)
    v = torch.randn(batch, heads, keys, 6)
    assert count_flops(_Attention(), (q, k, v)) == \
        batch * heads * length * keys * (dims + 6)


@pytest.mark.parametrize(
    'options', [
        dict(adapters=dict(num_adapters=4)),
        dict(
            adapters=dict(num_adapters=6, scale=0.5, dropout=0.1),
            stdha=dict(offsets={
                1: 1,
                -1: 1
            })),
        dict(
            adapters=dict(num_adapters=4),
            stdha=dict(offsets={
                1: 1,
                -1: 1
            }),
            compress=dict(type='InTI', after_blocks=(1, ))),
    ],
    ids=['4_adapters', '6_adapters_stdha', 'inti_stdha'])
def test_merged_backbone_costs_what_the_plain_backbone_costs(options):
    num_frames = 4
    clip = torch.randn(1, 3, num_frames, 32, 32)
    adapted = ZeroI2VViT(
        arch=TINY_ARCH, num_frames=num_frames, **options).eval()
    randomize_adapters(adapted)
    plain_options = {k: v for k, v in options.items() if k != 'adapters'}
    plain = ZeroI2VViT(
        arch=TINY_ARCH, num_frames=num_frames, **plain_options).eval()
    params_before = count_parameters(adapted)
    flops_before = count_flops(adapted, clip)
    merged = merge_adapters(adapted)
    assert count_parameters(merged) == count_parameters(plain) < \
        params_before
    assert count_flops(merged, clip) == count_flops(plain, clip) < \
        flops_before


def _open_clip_visual_params(arch):
    """Parameters of open_clip's CLIP image tower of the same size, without
    its image-text projection ``proj`` (not part of a video backbone)."""
    from open_clip.transformer import VisionTransformer
    visual = VisionTransformer(
        image_size=arch['image_size'],
        patch_size=arch['patch_size'],
        width=arch['width'],
        layers=arch['layers'],
        heads=arch['heads'],
        mlp_ratio=4.0,
        output_dim=512)
    counts = parameter_count(visual)
    return counts[''] - counts['proj']


@pytest.mark.parametrize(
    'arch', [TINY_ARCH, 'ViT-B/16'], ids=['tiny', 'ViT-B-16'])
def test_plain_backbone_is_the_image_vit_plus_temporal_embedding(arch):
    num_frames = 8
    plain = ZeroI2VViT(
        arch=arch, num_frames=num_frames, stdha=dict(offsets={
            1: 1,
            -1: 1
        }))
    width = plain.embed_dims
    assert count_parameters(plain) == \
        _open_clip_visual_params(plain.arch) + num_frames * width


def test_vit_b16_gflops_match_the_papers():
    """Paper (ZeroI2V Table 3): 422 GFLOPs for 8x1x3 views, i.e. 140.7 per
    8-frame view, 17.6 per frame. Counted on the K400 config built without
    adapters, which is what the merged model is (equal counts: see
    test_merged_backbone_costs_what_the_plain_backbone_costs); merging
    ViT-B/16 itself takes ~12 s on 2 CPU cores."""
    cfg = Config.fromfile(
        f'{REPO}/configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    plain = build_plain_model(cfg.model.backbone)
    gflops = count_view_flops(plain) / 1e9  # one (1, 3, 8, 224, 224) view
    assert abs(gflops - 140.7) <= 0.02 * 140.7, gflops
    assert abs(gflops / 8 - 17.6) <= 0.02 * 17.6, gflops  # per frame


IN21K = 'configs/recognition/zeroi2v/zeroi2v_in21k-vit-base-p16_'


@pytest.mark.parametrize(
    'config',
    [IN21K + '8x16x1-40e_kinetics400-rgb.py', IN21K + 'u8-50e_sthv2-rgb.py'],
    ids=['k400', 'ssv2'])
def test_in21k_configs_match_paper_table_13(config):
    """ZeroI2V Table 13 (IN21K ViT-B/16): 422 GFLOPs for 3 views (8x1x3 K400,
    8x3x1 SSv2), 86M parameters, 0 new ones: counted on the merged model
    (the config built without adapters), head included."""
    cfg = Config.fromfile(f'{REPO}/{config}')
    plain = build_plain_model(cfg.model)
    assert plain.backbone.style == 'timm'
    gflops = 3 * count_view_flops(plain.backbone) / 1e9
    assert abs(gflops - 422) <= 0.02 * 422, gflops
    params = count_parameters(plain) / 1e6
    assert abs(params - 86) <= 0.02 * 86, params


def test_recognizer_complexity_counts_backbone_and_head():
    cfg = Config.fromfile(f'{REPO}/configs/demo/zeroi2v_synthetic.py')
    cfg.model.backbone.pretrained = None  # the demo's image model: not here
    cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.model.cls_head.in_channels = TINY_ARCH['width']
    recognizer = MODELS.build(cfg.model)
    report = complexity(recognizer)
    assert report['input_shape'] == [3, 8, 32, 32]
    backbone_flops = count_flops(recognizer.backbone,
                                 torch.zeros(1, 3, 8, 32, 32))
    head = recognizer.cls_head.fc_cls
    # the head's time average is element-wise (not counted); its fc is
    assert report['flops'] - backbone_flops == \
        head.in_features * head.out_features
    assert report['params'] == report['backbone_params'] + sum(
        p.numel() for p in recognizer.cls_head.parameters())
