"""Checkpoints of the official ZeroI2V code convert, load strictly into the
matching config here and give the official model's logits.

The official model is not importable here (it needs OpenAI's ``clip``
package and a torch 1.x private function), so this file writes an
independent reference of it from the released code's documented behaviour
(MCG-NJU/ZeroI2V ``vit_zero_clip.py``, ``stdha.py``, ``stdha_long.py``,
``stdha_ablation.py``, ``tools/weight_reparam.py``):

* official key names: ``attn.in_proj_weight`` / ``in_proj_bias`` (torch
  ``nn.MultiheadAttention``), ``mlp.c_fc`` / ``c_proj``, adapters
  ``T_Adapter_in`` (or ``T_Adapter_in_q/k/v``), ``S_Adapter``, ``MLP_Adapter``
  and ``MLP_Adapter_out`` (``num_tadapter=2`` only), each ``D_fc1`` /
  ``D_fc2``; ``temporal_embedding`` of shape (1, T, C); ``cls_head.fc_cls``;
* tokens ``(L, B*T, C)``, frames of a clip adjacent; the official adapter
  ``x + s * D_fc2(dropout(D_fc1(x)))``;
* the official TemporalShift on k and v after the in-projection: the first
  ``C/shift_div`` channels of frame t take frame t-1's, the next
  ``C/shift_div`` frame t+1's, then ``C/long_shift_div`` frame t-2's (and with
  ``long_shift_right`` the next ones t+2's), ``C/shift3_div`` t-3's; frames
  whose source is outside the clip keep their own;
* the I3D head: average over frames, fc;
* weight_reparam.py's folding of the adapters into the linears.

Tiny models (width 64, 2-3 blocks, 32 px, 8 frames) with every weight
random (adapters, LayerNorms, temporal embedding included) are saved in both
official formats, converted by the real tool and compared with the reference.
"""
import math
import os.path as osp
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmaction.registry import MODELS
from zeroi2v_mm.models import official_checkpoint as oc
from zeroi2v_mm.reparam import merge_adapters

from helpers import REPO, load_tool, run_cli

pytestmark = pytest.mark.usefixtures('one_thread')

TOOL = load_tool('tools/convert_official_checkpoint.py')
WIDTH, FRAMES, SIZE, PATCH, CLASSES = 64, 8, 32, 8, 10


# ----------------------------------------------- reference: official model
class RefAdapter(nn.Module):
    """Official LinearAdapter (skip connection on, dropout off in eval)."""

    def __init__(self, width, scale, ratio=0.25):
        super().__init__()
        self.D_fc1 = nn.Linear(width, int(width * ratio))
        self.D_fc2 = nn.Linear(int(width * ratio), width)
        self.scale = scale

    def forward(self, x):
        return x + self.D_fc2(self.D_fc1(x)) * self.scale


def official_channel_schedule(width,
                              shift_div,
                              long_shift_div=-1,
                              long_shift_right=False,
                              shift3_div=-1):
    """``[(channels, dt), ...]`` from channel 0 on, as the official
    TemporalShift lays them out (frame t reads frame t+dt)."""
    fold = width // shift_div
    schedule = [(fold, -1), (fold, 1)]
    if long_shift_div > 0:
        schedule.append((width // long_shift_div, -2))
        if long_shift_right:
            schedule.append((width // long_shift_div, 2))
    if shift3_div > 0:
        schedule.append((width // shift3_div, -3))
    return schedule


def official_temporal_shift(x, num_frames, schedule):
    """(L, B*T, C) -> same; the official out = feat.clone() + slice copies."""
    n, bt, c = x.shape
    feat = x.view(n, bt // num_frames, num_frames, c)
    out = feat.clone()
    start = 0
    for channels, dt in schedule:
        block = slice(start, start + channels)
        if dt < 0:
            out[:, :, -dt:, block] = feat[:, :, :dt, block]
        else:
            out[:, :, :-dt, block] = feat[:, :, dt:, block]
        start += channels
    return out.view(n, bt, c)


class RefSTDHA(nn.Module):
    """nn.MultiheadAttention's parameters and maths, k and v shifted after
    the in-projection; plain softmax attention written out."""

    def __init__(self, width, heads, num_frames, schedule):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)
        self.heads, self.num_frames, self.schedule = heads, num_frames, \
            schedule

    def forward(self, q, k, v):
        length, rows, width = q.shape
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q, k, v = F.linear(q, w_q, b_q), F.linear(k, w_k, b_k), \
            F.linear(v, w_v, b_v)
        k = official_temporal_shift(k, self.num_frames, self.schedule)
        v = official_temporal_shift(v, self.num_frames, self.schedule)
        head_dim = width // self.heads

        def split(t):  # (L, BT, C) -> (BT*H, L, hd)
            return t.contiguous().view(length, rows * self.heads,
                                       head_dim).transpose(0, 1)

        q, k, v = split(q), split(k), split(v)
        weights = torch.softmax(
            q @ k.transpose(1, 2) / math.sqrt(head_dim), dim=-1)
        out = (weights @ v).transpose(0, 1).contiguous().view(
            length, rows, width)
        return self.out_proj(out)


class RefQuickGELU(nn.Module):

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class RefBlock(nn.Module):

    def __init__(self, width, heads, num_frames, schedule, num_tadapter, scale,
                 attn_adapter_type, adapters):
        super().__init__()
        self.attn = RefSTDHA(width, heads, num_frames, schedule)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict([('c_fc', nn.Linear(width, width * 4)),
                         ('gelu', RefQuickGELU()),
                         ('c_proj', nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)
        self.adapters, self.num_tadapter = adapters, num_tadapter
        self.attn_adapter_type = attn_adapter_type
        if adapters:
            self.MLP_Adapter = RefAdapter(width, scale)
            if num_tadapter == 2:
                self.MLP_Adapter_out = RefAdapter(width, scale)
            self.S_Adapter = RefAdapter(width, scale)
            if attn_adapter_type == 'share':
                self.T_Adapter_in = RefAdapter(width, scale)
            else:
                self.T_Adapter_in_q = RefAdapter(width, scale)
                self.T_Adapter_in_k = RefAdapter(width, scale)
                self.T_Adapter_in_v = RefAdapter(width, scale)

    def forward(self, x):
        if not self.adapters:  # vit_zero_clip_eval.py: merged model
            x = x + self.attn(*[self.ln_1(x)] * 3)
            return x + self.mlp(self.ln_2(x))
        h = self.ln_1(x)
        if self.attn_adapter_type == 'share':
            q = k = v = self.T_Adapter_in(h)
        else:
            q, k, v = (self.T_Adapter_in_q(h), self.T_Adapter_in_k(h),
                       self.T_Adapter_in_v(h))
        x = x + self.S_Adapter(self.attn(q, k, v))
        if self.num_tadapter == 2:
            return x + self.MLP_Adapter_out(
                self.mlp(self.MLP_Adapter(self.ln_2(x))))
        return x + self.mlp(self.MLP_Adapter(self.ln_2(x)))


class RefViT(nn.Module):
    """ViT_Zero_CLIP (training) / ViT_Zero_CLIP_eval (adapters=False)."""

    def __init__(self,
                 layers,
                 heads,
                 schedule,
                 num_tadapter=2,
                 scale=0.5,
                 attn_adapter_type='share',
                 adapters=True,
                 width=WIDTH,
                 num_frames=FRAMES,
                 patch=PATCH,
                 size=SIZE):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(width))
        self.positional_embedding = nn.Parameter(
            torch.empty((size // patch)**2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.num_frames = num_frames
        self.temporal_embedding = nn.Parameter(
            torch.empty(1, num_frames, width))
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.Sequential(*[
            RefBlock(width, heads, num_frames, schedule, num_tadapter, scale,
                     attn_adapter_type, adapters) for _ in range(layers)
        ])
        self.ln_post = nn.LayerNorm(width)

    def forward(self, x):
        b, c, t, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # (b t) c h w
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1])
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        n = x.shape[1]
        # '(b t) n d -> (b n) t d', + temporal_embedding, and back
        x = x.view(b, t, n, -1).permute(0, 2, 1, 3).reshape(b * n, t, -1)
        x = x + self.temporal_embedding
        x = x.view(b, n, t, -1).permute(0, 2, 1, 3).reshape(b * t, n, -1)
        x = self.ln_pre(x).permute(1, 0, 2)  # NLD -> LND
        x = self.transformer.resblocks(x).permute(1, 0, 2)
        x = self.ln_post(x[:, 0])
        return x.view(b, t, -1).permute(0, 2, 1)  # (B, C, T)


class RefRecognizer(nn.Module):

    def __init__(self, classes=CLASSES, **kwargs):
        super().__init__()
        self.backbone = RefViT(**kwargs)
        self.cls_head = nn.Module()
        self.cls_head.fc_cls = nn.Linear(kwargs.get('width', WIDTH), classes)

    def forward(self, x):  # I3DHead, spatial_type='avg': mean over T, fc
        return self.cls_head.fc_cls(self.backbone(x).mean(dim=2))


def randomize(model, seed=0):
    """Every parameter random (LayerNorms, adapters, temporal embedding
    too), so that a mapping mistake anywhere changes the logits."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            std = 0.02 if name.endswith('embedding') else 0.1
            if name.endswith(('ln_1.weight', 'ln_2.weight', 'ln_pre.weight',
                              'ln_post.weight')):
                param.copy_(1 + 0.2 *
                            torch.randn(param.shape, generator=generator))
            else:
                param.copy_(std *
                            torch.randn(param.shape, generator=generator))
        # conv/embeddings of a random init give small tokens; scale them up
        model.backbone.conv1.weight.mul_(3)
    return model.eval()


def weight_reparam(state, scale, num_tadapter, layers):
    """tools/weight_reparam.py's arithmetic on a training state dict: each
    adapter A(x) = (I + s W2 W1) x + s (W2 b1 + b2) folded into the linear
    it feeds (``W @ M``) or follows (``M @ W``); the adapter keys deleted."""
    state = {k: v.double() for k, v in state.items()}

    def affine(prefix):
        w1, b1 = state.pop(prefix + 'D_fc1.weight'), state.pop(prefix +
                                                               'D_fc1.bias')
        w2, b2 = state.pop(prefix + 'D_fc2.weight'), state.pop(prefix +
                                                               'D_fc2.bias')
        matrix = torch.eye(w1.shape[1], dtype=torch.float64) + scale * w2 @ w1
        return matrix, scale * (w2 @ b1 + b2)

    for i in range(layers):
        p = f'backbone.transformer.resblocks.{i}.'
        folds = [('T_Adapter_in.', 'attn.in_proj_weight', 'attn.in_proj_bias',
                  True),
                 ('S_Adapter.', 'attn.out_proj.weight', 'attn.out_proj.bias',
                  False),
                 ('MLP_Adapter.', 'mlp.c_fc.weight', 'mlp.c_fc.bias', True)]
        if num_tadapter == 2:
            folds.append(('MLP_Adapter_out.', 'mlp.c_proj.weight',
                          'mlp.c_proj.bias', False))
        for adapter, weight, bias, adapter_first in folds:
            matrix, offset = affine(p + adapter)
            w, b = state[p + weight], state[p + bias]
            if adapter_first:  # linear(A(x)) = W M x + (W c + b)
                state[p + weight], state[p + bias] = w @ matrix, w @ offset + b
            else:  # A(linear(x)) = M W x + (M b + c)
                state[p + weight], state[p + bias] = (matrix @ w,
                                                      matrix @ b + offset)
    return {k: v.float() for k, v in state.items()}


def save_training(model, path):
    """As the official runner saves it: an MMEngine checkpoint with meta,
    state_dict, optimizer and a message hub (not plain tensors)."""
    from mmengine.logging import MessageHub
    torch.save(
        dict(
            meta=dict(epoch=40, seed=0),
            state_dict=model.state_dict(),
            message_hub=MessageHub.get_instance('ref').state_dict(),
            optimizer=dict(state={}, param_groups=[])), path)


# ----------------------------------------------------------- model settings
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


def tiny_config(path,
                ref_kwargs,
                stdha,
                num_adapters,
                merged,
                tmp_path,
                pairs=False):
    """The real config with tiny overrides, as a user writes one (a
    ``_base_`` file: MMEngine's ``Config.dump`` would sort the offsets'
    keys and lose the head order)."""
    offsets = TOOL.parse_offsets(stdha)
    if pairs:  # the Config.dump-safe form
        offsets = list(offsets.items())
    adapters = ('None' if merged else f'dict(num_adapters={num_adapters}, '
                f'scale={ref_kwargs["scale"]})')
    text = (
        f'_base_ = [{osp.join(REPO, path)!r}]\n'
        'model = dict(\n'
        f'    backbone=dict(arch=dict(_delete_=True, width={WIDTH}, '
        f'layers={ref_kwargs["layers"]}, heads={ref_kwargs["heads"]}, '
        f'patch_size={PATCH}, image_size={SIZE}),\n'
        f'        num_frames={FRAMES}, pretrained=None,\n'
        f'        stdha=dict(_delete_=True, offsets={offsets!r}),\n'
        f'        adapters={adapters}),\n'
        f'    cls_head=dict(in_channels={WIDTH}, num_classes={CLASSES}))\n')
    out = tmp_path / ('tiny_merged.py' if merged else 'tiny.py')
    out.write_text(text)
    return str(out)


def converted_logits(out, config, x):
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model).eval()
    # MMEngine's loader, as load_from / mim test use it, strict
    checkpoint = load_checkpoint(model, out, map_location='cpu', strict=True)
    return logits_of(model, x), checkpoint, model


def logits_of(model, x):
    with torch.no_grad():
        return model._forward(x[:, None], stage='head')


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
    assert TOOL.main([
        str(src), out, f'--stdha={stdha}', '--heads',
        str(ref_kwargs['heads']), '--adapter-scale',
        str(ref_kwargs['scale']), '--config', config
    ]) == 0
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
    assert TOOL.main([
        str(merged_src), merged_out, f'--stdha={stdha}', '--heads',
        str(ref_kwargs['heads']), '--config', merged_config
    ]) == 0
    logits, checkpoint, _ = converted_logits(merged_out, merged_config, clip)
    assert (logits - merged_expected).abs().max() <= 1e-5
    assert checkpoint['meta']['official_checkpoint']['format'] == 'merged'
    # this package's own merge of the converted training checkpoint is the
    # official merged model too (3 adapters included)
    own_merge = merge_adapters(converted)
    assert (logits_of(own_merge, clip) - merged_expected).abs().max() <= 1e-5
    assert sorted(own_merge.state_dict()) == sorted(checkpoint['state_dict'])


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


def heads_of(schedule, head_dim):
    """Channel blocks -> ``{dt: heads}`` (each block whole heads)."""
    offsets = {}
    for channels, dt in schedule:
        assert channels % head_dim == 0, (channels, head_dim)
        offsets[dt] = channels // head_dim
    return offsets


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


def meta_state(merged=False, **kwargs):
    """An official state dict of full size, shapes only (meta device)."""
    with torch.device('meta'):
        model = RefRecognizer(schedule=[], adapters=not merged, **kwargs)
    return model.state_dict()


@pytest.fixture
def skip_random_init(monkeypatch):
    """Build full-size models without filling them (only shapes matter;
    untouched memory is not committed), as tests/test_configs.py does."""
    for name in ('normal_', 'uniform_', 'trunc_normal_', 'kaiming_uniform_',
                 'constant_', 'zeros_', 'ones_'):
        monkeypatch.setattr(torch.nn.init, name, lambda t, *a, **k: t)


@pytest.mark.parametrize('merged', [False, True])
def test_vit_l_layout_inferred(merged, skip_random_init):
    """A ViT-L/14 SSv2 32f checkpoint (24 blocks, 16 heads, patch 14, 224
    px): arch, frames, classes, adapters and the released settings are read
    off the keys, and the converted keys are the matching model's."""
    state = meta_state(
        merged=merged,
        classes=174,
        layers=24,
        heads=16,
        width=1024,
        num_frames=32,
        patch=14,
        size=224)
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
    state = meta_state(
        classes=400,
        layers=12,
        heads=12,
        width=768,
        num_frames=8,
        patch=16,
        size=224,
        num_tadapter=1)
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
    return TOOL.main([
        str(src),
        str(out), '--stdha=-1:1,1:1', '--heads', '4', '--adapter-scale', '0.5',
        *extra
    ])


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


@pytest.mark.slow
def convert_for_tiny_demo(folder):
    """A random official training checkpoint of a tiny ViT (the released
    head order), converted by the script (a subprocess) against the demo
    config shrunk to it. Returns ``(reference model, config, converted
    checkpoint, the script's log)``."""
    reference = randomize(
        RefRecognizer(
            layers=2,
            heads=4,
            schedule=official_channel_schedule(64, 4),
            scale=1.0))
    src, out = folder / 'epoch_40.pth', folder / 'converted.pth'
    save_training(reference, src)
    config = folder / 'tiny_demo.py'
    config.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/demo/zeroi2v_synthetic.py')!r}]"
        "\nmodel = dict(backbone=dict(arch=dict(_delete_=True, width=64, "
        "layers=2, heads=4, patch_size=8, image_size=32), pretrained=None, "
        "act='quick_gelu', stdha=dict(_delete_=True, offsets=[(-1, 1), "
        "(1, 1)])), cls_head=dict(in_channels=64))\n")
    log = run_cli([
        'python', 'tools/convert_official_checkpoint.py',
        str(src),
        str(out), '--stdha=-1:1,1:1', '--heads', '4', '--adapter-scale', '1',
        '--config',
        str(config)
    ])
    return reference, str(config), str(out), log


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


def test_named_config_checked(tmp_path):
    """The config the table names is checked too: a head order other than
    the released one is reported."""
    state = meta_state(
        classes=400,
        layers=12,
        heads=12,
        width=768,
        num_frames=8,
        patch=16,
        size=224)
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
