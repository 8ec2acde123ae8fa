"""An independent reference of the official ZeroI2V model, for the tests of
``tools/convert_official_checkpoint.py``.

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
official formats (:func:`save_training`, :func:`weight_reparam`); the tests
convert them with the real tool (:func:`tool_args`) and compare with the
reference.
"""
import math
import os.path as osp
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmaction.registry import MODELS

from helpers import REPO, load_tool, run_cli

TOOL = load_tool('tools/convert_official_checkpoint.py')
WIDTH, FRAMES, SIZE, PATCH, CLASSES = 64, 8, 32, 8, 10
# full-size official layouts (shapes only, see meta_state)
VIT_B16_K400_8F = dict(
    classes=400,
    layers=12,
    heads=12,
    width=768,
    num_frames=8,
    patch=16,
    size=224)
VIT_L14_SSV2_32F = dict(
    classes=174,
    layers=24,
    heads=16,
    width=1024,
    num_frames=32,
    patch=14,
    size=224)


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


def heads_of(schedule, head_dim):
    """Channel blocks -> ``{dt: heads}`` (each block whole heads)."""
    offsets = {}
    for channels, dt in schedule:
        assert channels % head_dim == 0, (channels, head_dim)
        offsets[dt] = channels // head_dim
    return offsets


def meta_state(merged=False, **kwargs):
    """An official state dict of full size, shapes only (meta device)."""
    with torch.device('meta'):
        model = RefRecognizer(schedule=[], adapters=not merged, **kwargs)
    return model.state_dict()


def tool_args(src, out, stdha, heads, scale=None, config=None):
    """The tool's command line for a tiny official checkpoint."""
    args = [str(src), str(out), f'--stdha={stdha}', '--heads', str(heads)]
    if scale is not None:
        args += ['--adapter-scale', str(scale)]
    if config is not None:
        args += ['--config', str(config)]
    return args


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
    log = run_cli(['python', 'tools/convert_official_checkpoint.py'] +
                  tool_args(src, out, '-1:1,1:1', 4, scale=1, config=config))
    return reference, str(config), str(out), log
