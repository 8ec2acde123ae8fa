"""Efficiency benchmark of configs against the plain image ViT of the same size.

    python tools/benchmark.py CONFIG [CONFIG ...] [--device cpu|cuda]
        [--json OUT.json] [--md OUT.md] [--accuracy ACC.json | NAME=TOP1 ...]
        [--plot OUT.png] [--quick] [--warmup N] [--repeats N]
        [--train-warmup N] [--train-repeats N] [--train-batch N]
        [--max-batch N] [--views V] [--threads N] [--no-throughput]
        [--no-train] [--no-attention] [--no-unmerged] [--no-share]
        [--counts-only] [--cfg-options k=v ...]

Models are built with ``pretrained=None``: costs do not depend on the weights.
Per config:

* parameters: ``total`` and ``trainable`` of the model as trained (a
  parameter the config's ``paramwise_cfg`` gives ``lr_mult=0`` counts as
  frozen and gets no gradient here: the linear probe's temporal embedding
  and ln_post), ``new_after_merge`` = parameters of the deployed model
  (linear adapters, LoRA and temporal-head updates folded by
  :func:`zeroi2v_mm.reparam.merge_adapters`; AIM, ST-Adapter and GELU
  adapters stay) minus those of the plain model;
* GFLOPs per view of the deployed model, multiply-accumulates in the fvcore
  convention, counted by MMEngine's ``FlopAnalyzer`` with attention
  (:func:`zeroi2v_mm.analysis.complexity`), and per clip (x test views);
* inference latency of the deployed model, pixels to class logits: batch 1
  clip x the config's test views (``--views`` overrides); for configs that
  merge, also of the model as trained (unmerged; ``--no-unmerged`` skips);
* throughput (views / s) at the largest batch of views that fits: on CUDA
  the batch doubles until out of memory or ``--max-batch``; on CPU it is
  ``--max-batch`` (memory is not what limits a CPU);
* training on ``--train-batch`` clips of one view (forward, cross-entropy,
  backward, AdamW step; the model as the config trains it): time of a step
  and peak memory. Peak memory = bytes of the parameters, buffers and AdamW
  state of the model (allocated before the step) + the peak increase of
  allocated tensor memory during the step (activations, gradients,
  temporaries). On CUDA the increase is ``torch.cuda.max_memory_allocated``
  minus the allocation before the step; on CPU it is the peak of the running
  sum of the tensor allocations and frees that ``torch.profiler`` records
  with ``profile_memory=True`` (the process RSS would also count the
  allocator's caches, other models and other threads; tracemalloc does not
  see tensors). The measured step also serves as the first warm-up step.

The plain model of a config is the same config with ``stdha=None,
adapters=None, peft=None, compress=None`` and ``freeze_pretrained=False``: the
image ViT (plus its zero T x D temporal embedding), trained as a whole. Every
figure is also given as a ratio to it.

Timing: every model is warmed up, then timed in rounds; in each round every
model of the run (all configs and the plain models) runs once, in an order
that rotates and reverses from round to round, so that load from other
processes hits all of them alike. Reported: median and inter-quartile range
over the rounds; ratios to the plain model both as the ratio of the medians
and as the median of the per-round ratios (``paired_ratio``, the robust one:
the Markdown table shows it). Deployed models that are the same network
(same modules, shapes and settings: e.g. merged ZeroI2V, merged LoRA, merged
temporal-heads and full fine-tuning are all the plain ViT + STDHA; the
linear probe is the plain ViT) are timed once and share the figures
(``--no-share`` times each separately). On CUDA, inference and training run
under AMP (fp16 autocast; GradScaler for training).

A micro-benchmark times one STDHA attention layer against the same layer
without head relocation (same weights and input, the size and offsets of the
first config with STDHA), both whole (in-projection, relocation, attention,
out-projection) and its core (relocation + scaled dot-product attention on a
given q/k/v buffer), and reports the ratios.

``--counts-only`` stops after the parameter and FLOP counts (no timing).
On a small CPU give ``--threads`` (all cores) and run on an idle machine:
a thread that another process keeps from running stalls every operation.

Outputs: a Markdown table on stdout and in ``--md``, everything in
``--json``; with ``--accuracy`` (a JSON file ``{config name: top-1}`` or
``NAME=TOP1`` pairs; names are config file stems) a top-1 column and a plot
of top-1 vs GFLOPs per clip (``--plot``, default next to the Markdown file as
``<md stem>_accuracy.png``; needs matplotlib).
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config, DictAction

import zeroi2v_mm  # noqa: F401  (registries and stack fixes)
from mmaction.registry import MODELS
from mmaction.utils import register_all_modules
from zeroi2v_mm.analysis import complexity, is_recognizer, recognizer_logits
from zeroi2v_mm.models.layers import AdaptedLinear
from zeroi2v_mm.reparam import count_adapted_linears, merge_adapters

MIB = 2**20
CPU_MEMORY_MEASURE = ('parameters + buffers + AdamW state, plus the peak '
                      'running sum of tensor allocations during the step '
                      '(torch.profiler, profile_memory=True)')
CUDA_MEMORY_MEASURE = ('parameters + buffers + AdamW state, plus '
                       'torch.cuda.max_memory_allocated during the step minus '
                       'the allocation before it')


# ------------------------------------------------------------------ configs
def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def backbone_cfg(model_cfg: dict) -> dict:
    return model_cfg.get('backbone', model_cfg)


def plain_model_cfg(model_cfg: dict) -> dict:
    """The plain image ViT of the same size: no STDHA, adapters, peft or
    compression, everything trainable."""
    cfg = copy.deepcopy(model_cfg)
    backbone = backbone_cfg(cfg)
    for key in ('stdha', 'adapters', 'peft', 'compress'):
        backbone[key] = None
    backbone['freeze_pretrained'] = False
    return cfg


def build_model(model_cfg: dict, device: torch.device) -> nn.Module:
    cfg = copy.deepcopy(model_cfg)
    backbone = backbone_cfg(cfg)
    if backbone.get('type') != 'ZeroI2VViT':
        raise SystemExit(f"benchmark.py measures ZeroI2VViT models; the "
                         f"config's backbone is {backbone.get('type')!r}")
    backbone['pretrained'] = None
    backbone.pop('init_cfg', None)
    model = MODELS.build(cfg)
    return model.to(device).eval()


def frozen_by_lr_mult(cfg: Config, model: nn.Module) -> List[str]:
    """Trainable parameters the optimizer never moves: those whose first
    matching ``paramwise_cfg.custom_keys`` entry (MMEngine's order: longest
    key first) has ``lr_mult=0``."""
    paramwise = (cfg.get('optim_wrapper') or {}).get('paramwise_cfg') or {}
    custom = paramwise.get('custom_keys') or {}
    keys = sorted(sorted(custom), key=len, reverse=True)
    frozen = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        match = next((key for key in keys if key in name), None)
        if match is not None and custom[match].get('lr_mult', 1.0) == 0:
            frozen.append(name)
    return frozen


def test_views(cfg: Config) -> int:
    """Views per clip at test time: ``num_clips`` of the frame sampler x
    crops (ThreeCrop 3, TenCrop 10, otherwise 1)."""
    pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        loader = cfg.get('test_dataloader') or {}
        pipeline = loader.get('dataset', {}).get('pipeline', [])
    clips, crops = 1, 1
    for step in pipeline or []:
        kind = step.get('type')
        if kind in ('SampleFrames', 'UniformSample', 'UniformSampleFrames',
                    'DenseSampleFrames'):
            clips = int(step.get('num_clips', 1))
        elif kind == 'ThreeCrop':
            crops = 3
        elif kind == 'TenCrop':
            crops = 10
    return clips * crops


def view_shape_of(model: nn.Module) -> Tuple[int, int, int, int]:
    backbone = getattr(model, 'backbone', model)
    size = backbone.arch['image_size']
    return (3, int(backbone.num_frames), int(size), int(size))


def describe_method(model_cfg: dict) -> str:
    backbone = backbone_cfg(model_cfg)
    parts = []
    if backbone.get('peft'):
        parts.append(backbone['peft']['type'])
    elif backbone.get('adapters'):
        parts.append(f"{backbone['adapters'].get('num_adapters', 4)} linear "
                     'adapters')
    if backbone.get('stdha'):
        parts.append('STDHA')
    if backbone.get('compress'):
        parts.append(backbone['compress']['type'])
    if not backbone.get('freeze_pretrained', True):
        parts.append('full fine-tuning')
    elif not parts:
        parts.append('frozen')
    return ' + '.join(parts)


def size_label(model: nn.Module) -> str:
    backbone = getattr(model, 'backbone', model)
    arch = backbone.arch
    return (f"width {arch['width']}, {arch['layers']} blocks, "
            f"{arch['heads']} heads, patch {arch['patch_size']}, "
            f"{arch['image_size']} px, {backbone.num_frames} frames")


def signature(model: nn.Module) -> str:
    """Equal for networks that compute the same way: module tree with each
    module's settings (``extra_repr``: shapes, heads, offsets, ...) and the
    tensor shapes. A linear that could carry adapters but has none computes
    what ``nn.Linear`` does and counts as one."""
    parts, skip = [], []
    for name, module in model.named_modules():
        if any(name.startswith(prefix) for prefix in skip):
            continue
        kind = type(module).__name__
        if isinstance(module, AdaptedLinear) and not module.has_adapters:
            kind = 'Linear'
            skip.append(name + '.')
        parts.append(f'{name}:{kind}({module.extra_repr()})')
    shapes = sorted((k, tuple(v.shape), str(v.dtype))
                    for k, v in model.state_dict().items())
    return '\n'.join(parts) + repr(shapes)


# ------------------------------------------------------------------ timing
def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def autocast(device: torch.device):
    if device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.float16)
    return nullcontext()


def summarize(seconds: Sequence[float]) -> Dict[str, Any]:
    """Median and spread of timings, in milliseconds."""
    ms = sorted(1e3 * s for s in seconds)
    if len(ms) >= 2:
        q1, _, q3 = statistics.quantiles(ms, n=4, method='inclusive')
    else:
        q1 = q3 = ms[0]
    return dict(median=statistics.median(ms), q1=q1, q3=q3, iqr=q3 - q1,
                min=ms[0], max=ms[-1], n=len(ms))


def round_order(names: List[str], round_index: int) -> List[str]:
    """``names`` rotated by ``round_index`` and reversed every other round:
    over the rounds each model runs early, late, before and after each
    other model."""
    shift = round_index % len(names)
    order = names[shift:] + names[:shift]
    return order[::-1] if round_index % 2 else order


def interleaved_timings(functions: Dict[str, Callable[[], Any]],
                        device: torch.device, warmup: int, repeats: int,
                        on_round: Optional[Callable[[int], None]] = None
                        ) -> Dict[str, List[float]]:
    """Run every function ``warmup`` times, then ``repeats`` timed rounds in
    which each runs once (:func:`round_order`). Returns seconds per run."""
    names = list(functions)
    for round_index in range(warmup):
        for name in round_order(names, round_index):
            functions[name]()
    synchronize(device)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        for name in round_order(names, round_index):
            synchronize(device)
            start = time.perf_counter()
            functions[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
        if on_round is not None:
            on_round(round_index)
    return times


def paired_summary(times: Dict[str, List[float]], name: str,
                   reference: str) -> Dict[str, Any]:
    """Summaries of ``name`` and ``reference`` (timed in the same rounds)
    and the ratios: of the medians (``ratio``), the median of the per-round
    ratios (``paired_ratio``, robust to load drifting between rounds) and of
    the fastest runs (``min_ratio``)."""
    ours, ref = summarize(times[name]), summarize(times[reference])
    rounds = [a / b for a, b in zip(times[name], times[reference])]
    return dict(ms=ours, plain_ms=ref, ratio=ours['median'] / ref['median'],
                paired_ratio=statistics.median(rounds),
                min_ratio=ours['min'] / ref['min'])


def is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or \
        'out of memory' in str(error)


# --------------------------------------------------------------- inference
def make_clips(batch: int, views: int, shape: tuple,
               device: torch.device) -> torch.Tensor:
    generator = torch.Generator(device=device).manual_seed(0)
    return torch.randn((batch, views) + tuple(shape), generator=generator,
                       device=device)


def inference_call(model: nn.Module, clips: torch.Tensor,
                   device: torch.device) -> Callable[[], Any]:
    """Pixels to class logits of every view. ``clips``: ``(N, V, 3, T, H,
    W)``; a bare backbone gets ``(N*V, 3, T, H, W)``."""
    recognizer = is_recognizer(model)

    def run():
        with torch.inference_mode(), autocast(device):
            if recognizer:
                return recognizer_logits(model, clips)
            return model(clips.flatten(0, 1))

    return run


def throughput_batch(model: nn.Module, shape: tuple, device: torch.device,
                     max_batch: int) -> int:
    """Largest batch of views (a power of two, <= ``max_batch``) whose
    inference fits; on CPU simply ``max_batch``."""
    if device.type != 'cuda':
        return max_batch
    batch, best = 1, 0
    while batch <= max_batch:
        try:
            inference_call(model, make_clips(batch, 1, shape, device),
                           device)()
            synchronize(device)
            best = batch
            batch *= 2
        except RuntimeError as error:
            if not is_oom(error):
                raise
            break
        finally:
            torch.cuda.empty_cache()
    if best == 0:
        raise RuntimeError('not even one view fits in GPU memory')
    return best


# ---------------------------------------------------------------- training
class TrainStep:
    """One training step (forward, cross-entropy, backward, AdamW step) of
    ``model`` as configured (frozen parameters stay frozen). The AdamW state
    is created up front (a step on zero gradients with lr 0, which changes
    no weight), so every measured step sees the steady-state memory."""

    def __init__(self, model: nn.Module, batch: int, shape: tuple,
                 device: torch.device, lr: float = 1e-4):
        self.model = model.train()
        self.device = device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=lr,
                                           weight_decay=0.05)
        self.scaler = torch.amp.GradScaler('cuda',
                                           enabled=device.type == 'cuda')
        self.clips = make_clips(batch, 1, shape, device)
        head = getattr(model, 'cls_head', None)
        classes = getattr(head, 'num_classes', 2)
        self.labels = torch.randint(
            classes, (batch, ),
            generator=torch.Generator().manual_seed(0)).to(device)
        self._init_optimizer_state(lr)

    def _init_optimizer_state(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group['lr'] = 0.0
        for param in self.params:
            param.grad = torch.zeros_like(param)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        for group in self.optimizer.param_groups:
            group['lr'] = lr

    def logits(self) -> torch.Tensor:
        if is_recognizer(self.model):
            return recognizer_logits(self.model, self.clips)
        return self.model(self.clips[:, 0]).flatten(1)

    def __call__(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device):
            logits = self.logits()
        loss = F.cross_entropy(logits.float(), self.labels)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        # Gradients are not kept between steps (set_to_none above anyway).
        self.optimizer.zero_grad(set_to_none=True)

    def static_bytes(self) -> int:
        """Parameters, buffers and optimizer state alive between steps."""
        seen, total = set(), 0
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        for state in self.optimizer.state.values():
            tensors += [v for v in state.values() if torch.is_tensor(v)]
        for tensor in tensors:
            storage = tensor.untyped_storage()
            key = (storage.device, storage.data_ptr())
            if key in seen:
                continue
            seen.add(key)
            total += storage.nbytes()
        return total


def cpu_step_allocation_peak(step: Callable[[], Any]) -> int:
    """Peak of the running sum of tensor allocations minus frees during
    ``step``, from ``torch.profiler`` memory events (bytes)."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        step()
    events = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            fields = node.extra_fields
            if torch.device(fields.device).type == 'cpu':
                events.append((node.start_time_ns, fields.alloc_size))
        stack.extend(node.children)
    running = peak = 0
    for _, size in sorted(events):
        running += size
        peak = max(peak, running)
    return peak


def train_peak_memory(step: TrainStep) -> int:
    """Peak bytes of the model's tensors during one step (see the module
    docstring); runs one step."""
    device = step.device
    static = step.static_bytes()
    if device.type == 'cuda':
        synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        synchronize(device)
        return static + int(torch.cuda.max_memory_allocated(device)) - before
    return static + cpu_step_allocation_peak(step)


# --------------------------------------------------------------- attention
def attention_core(qkv: torch.Tensor, heads: int, groups, num_frames: int):
    """STDHAttention's forward between its projections, on a q/k/v buffer
    ``(B*T, L, 3C)`` (relocated in place on a copy, as the layer does on its
    fresh projection output)."""
    from zeroi2v_mm.models.layers.stdha import shift_heads_in_time_
    rows, length, width3 = qkv.shape
    qkv = qkv.view(rows, length, 3, heads, width3 // (3 * heads))
    shift_heads_in_time_(qkv[:, :, 1:], groups, num_frames)
    q, k, v = qkv.unbind(2)
    return F.scaled_dot_product_attention(q.transpose(1, 2),
                                          k.transpose(1, 2),
                                          v.transpose(1, 2))


def attention_benchmark(arch: dict, num_frames: int, offsets: dict,
                        views: int, device: torch.device, warmup: int,
                        repeats: int) -> Dict[str, Any]:
    """One STDHA layer vs the same layer without head relocation (whole
    layer and its core between the projections)."""
    from zeroi2v_mm.models.layers import STDHAttention
    width, heads = arch['width'], arch['heads']
    tokens = (arch['image_size'] // arch['patch_size'])**2 + 1
    stdha = STDHAttention(width, heads, num_frames, offsets=offsets)
    plain = STDHAttention(width, heads, num_frames, offsets=None)
    plain.load_state_dict(stdha.state_dict())
    stdha, plain = stdha.to(device).eval(), plain.to(device).eval()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(views * num_frames, tokens, width,
                    generator=generator).to(device)
    qkv = torch.randn(views * num_frames, tokens, 3 * width,
                      generator=generator).to(device)

    def layer(module):
        def run():
            with torch.inference_mode(), autocast(device):
                return module(x)
        return run

    def core(groups):
        def run():
            with torch.inference_mode(), autocast(device):
                # The clone stands for the in-projection's fresh output: both
                # sides pay it, so the ratio is relocation + attention.
                return attention_core(qkv.clone(), heads, groups, num_frames)
        return run

    times = interleaved_timings(
        dict(layer_stdha=layer(stdha), layer_plain=layer(plain),
             core_stdha=core(stdha.head_groups), core_plain=core([])),
        device, warmup, repeats)
    result = dict(layer=paired_summary(times, 'layer_stdha', 'layer_plain'),
                  core=paired_summary(times, 'core_stdha', 'core_plain'))
    result.update(shape=list(x.shape), heads=heads,
                  temporal_heads=stdha.head_groups[-1][1],
                  offsets={str(k): v for k, v in offsets.items()})
    return result


# --------------------------------------------------------------- benchmark
def measure_static(model: nn.Module, shape: tuple) -> Dict[str, Any]:
    report = complexity(model, shape)
    return dict(params=report['params'], flops=report['flops'],
                gflops=report['gflops'])


def deployed(model: nn.Module) -> nn.Module:
    """The inference model: mergeable updates folded into the linears."""
    if count_adapted_linears(model) == 0:
        return model
    return merge_adapters(copy.deepcopy(model)).eval()


class Entry:
    """One config of the run: its models, settings and results."""

    def __init__(self, path: str, args, device: torch.device):
        self.cfg = load_config(path, args.cfg_options)
        self.path = path
        self.name = osp.splitext(osp.basename(path))[0]
        self.model_cfg = self.cfg.model.to_dict()
        self.model = build_model(self.model_cfg, device)
        self.frozen_by_lr_mult = frozen_by_lr_mult(self.cfg, self.model)
        for name, param in self.model.named_parameters():
            if name in self.frozen_by_lr_mult:
                param.requires_grad_(False)
        self.deployed = deployed(self.model)
        self.merges = self.deployed is not self.model
        self.shape = view_shape_of(self.model)
        self.views = args.views or test_views(self.cfg)
        self.plain_cfg = plain_model_cfg(self.model_cfg)
        self.plain_key = json.dumps(self.plain_cfg, sort_keys=True,
                                    default=str) + f'|{self.views}'
        self.result: Dict[str, Any] = dict(
            config=path, name=self.name,
            method=describe_method(self.model_cfg),
            view_shape=list(self.shape), test_views=self.views,
            merged=self.merges)


class Plain:
    """The plain image ViT of one size (shared by the configs of that size)."""

    def __init__(self, entry: Entry, device: torch.device, index: int):
        self.key = f'plain{index}'
        self.model = build_model(entry.plain_cfg, device)
        self.shape = entry.shape
        self.views = entry.views
        self.size = size_label(self.model)
        self.static = measure_static(self.model, self.shape)
        temporal = self.model.backbone.temporal_embedding \
            if hasattr(self.model, 'backbone') else \
            self.model.temporal_embedding
        self.temporal_numel = temporal.numel()
        self.result: Dict[str, Any] = dict(
            key=self.key, size=self.size, view_shape=list(self.shape),
            test_views=self.views,
            params=dict(total=self.static['params'],
                        image_vit=self.static['params'] - self.temporal_numel,
                        temporal_embedding=self.temporal_numel),
            gflops=dict(per_view=self.static['gflops'],
                        per_clip=self.static['gflops'] * self.views,
                        flops=self.static['flops']))


def count_static(entry: Entry, plain: Plain) -> None:
    model, deploy = entry.model, entry.deployed
    train_static = measure_static(model, entry.shape)
    deploy_static = (measure_static(deploy, entry.shape) if entry.merges
                     else train_static)
    plain_static = plain.static
    entry.result['params'] = dict(
        total=train_static['params'],
        trainable=sum(p.numel() for p in model.parameters()
                      if p.requires_grad),
        frozen_by_lr_mult=entry.frozen_by_lr_mult,
        deployed=deploy_static['params'],
        plain=plain_static['params'],
        temporal_embedding=plain.temporal_numel,
        image_vit=plain_static['params'] - plain.temporal_numel,
        new_after_merge=deploy_static['params'] - plain_static['params'])
    entry.result['gflops'] = dict(
        per_view=deploy_static['gflops'],
        per_clip=deploy_static['gflops'] * entry.views,
        per_view_unmerged=train_static['gflops'],
        plain_per_view=plain_static['gflops'],
        flops=deploy_static['flops'], flops_unmerged=train_static['flops'],
        plain_flops=plain_static['flops'])
    entry.result['ratios'] = dict(
        params=train_static['params'] / plain_static['params'],
        params_deployed=deploy_static['params'] / plain_static['params'],
        gflops=deploy_static['flops'] / plain_static['flops'],
        gflops_unmerged=train_static['flops'] / plain_static['flops'])


def inference_units(entries: List[Entry], plains: Dict[str, Plain],
                    args) -> Tuple[Dict[str, nn.Module], Dict[str, str],
                                   Dict[str, str]]:
    """The networks to time: ``({unit: model}, {entry key: unit},
    {unit: plain key})``. Entry keys: ``name`` (deployed) and
    ``name:unmerged``. Identical networks share a unit unless
    ``--no-share``."""
    units: Dict[str, nn.Module] = {}
    unit_plain: Dict[str, str] = {}
    owner: Dict[str, str] = {}
    by_signature: Dict[str, str] = {}

    def add(key: str, model: nn.Module, plain_key: str, views: int) -> None:
        sig = signature(model) + f'|{views}'
        if not args.no_share and sig in by_signature:
            owner[key] = by_signature[sig]
            return
        units[key] = model
        unit_plain[key] = plain_key
        by_signature[sig] = key
        owner[key] = key

    for plain in plains.values():
        add(plain.key, plain.model, plain.key, plain.views)
    for entry in entries:
        plain_key = plains[entry.plain_key].key
        add(entry.name, entry.deployed, plain_key, entry.views)
        if entry.merges and not args.no_unmerged:
            add(f'{entry.name}:unmerged', entry.model, plain_key, entry.views)
    return units, owner, unit_plain


def build_entries(args, device: torch.device
                  ) -> Tuple[List[Entry], Dict[str, Plain]]:
    """Build every config's model (and merged copy) and its plain model;
    count parameters and FLOPs."""
    entries: List[Entry] = []
    plains: Dict[str, Plain] = {}
    for path in args.configs:
        entry = Entry(path, args, device)
        if entry.plain_key not in plains:
            plains[entry.plain_key] = Plain(entry, device, len(plains))
        count_static(entry, plains[entry.plain_key])
        entry.result['plain'] = plains[entry.plain_key].key
        entries.append(entry)
        result, ratios = entry.result, entry.result['ratios']
        log(f'[{entry.name}] {result["method"]}: '
            f'{result["params"]["total"] / 1e6:.2f}M parameters '
            f'({result["params"]["trainable"] / 1e6:.2f}M trainable, '
            f'{result["params"]["new_after_merge"] / 1e6:.2f}M new after '
            f'merge), {result["gflops"]["per_view"]:.2f} GFLOPs per view '
            f'(x{ratios["gflops"]:.3f})')
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise SystemExit(f'config names must be unique: {names}')
    return entries, plains


def measure_inference(entries: List[Entry], plains: Dict[str, Plain], args,
                      device: torch.device) -> None:
    """Latency (and throughput) of every network, interleaved."""
    plain_of = {plain.key: plain for plain in plains.values()}
    units, owner, unit_plain = inference_units(entries, plains, args)

    inputs: Dict[tuple, torch.Tensor] = {}

    def clips_for(key: str, batch: int, views: int) -> torch.Tensor:
        """One input tensor per view shape, shared by every network that
        reads it (a slice of the largest batch asked for)."""
        shape = plain_of[unit_plain[key]].shape
        size = (views, ) + tuple(shape)
        if size not in inputs or inputs[size].shape[0] < batch:
            inputs[size] = make_clips(batch, views, shape, device)
        return inputs[size][:batch]

    calls = {key: inference_call(
        model, clips_for(key, 1, plain_of[unit_plain[key]].views), device)
        for key, model in units.items()}
    log(f'latency: {len(units)} networks x ({args.warmup} warm-up + '
        f'{args.repeats} timed) rounds, batch 1 clip')
    times = interleaved_timings(
        calls, device, args.warmup, args.repeats,
        on_round=lambda r: log(f'  latency round {r + 1}/{args.repeats}'))
    latency = {key: paired_summary(times, key, unit_plain[key])
               for key in units}
    for plain in plains.values():
        plain.result['latency'] = dict(ms=latency[plain.key]['ms'])
    for entry in entries:
        for key, field in ((entry.name, 'latency'),
                           (f'{entry.name}:unmerged', 'latency_unmerged')):
            if key not in owner:
                continue
            result = dict(latency[owner[key]], unit=owner[key])
            entry.result[field] = result
            entry.result['ratios'][field] = result['paired_ratio']
    if args.no_throughput:
        return

    deploy_units = {key: model for key, model in units.items()
                    if not key.endswith(':unmerged')}
    inputs.clear()
    batches = {key: throughput_batch(model, plain_of[unit_plain[key]].shape,
                                     device, args.max_batch)
               for key, model in deploy_units.items()}
    for key in sorted(batches, key=batches.get, reverse=True):
        clips_for(key, batches[key], 1)  # the largest batch first
    calls = {key: inference_call(model, clips_for(key, batches[key], 1),
                                 device)
             for key, model in deploy_units.items()}
    rounds = max(1, args.repeats // 2)
    log(f'throughput: {len(calls)} networks x ({min(args.warmup, 1)} '
        f'warm-up + {rounds} timed) rounds')
    times = interleaved_timings(calls, device, min(args.warmup, 1), rounds)
    throughput = {}
    for key in calls:
        ms = summarize(times[key])
        throughput[key] = dict(batch_views=batches[key], ms=ms,
                               views_per_s=1e3 * batches[key] / ms['median'])
    for plain in plains.values():
        plain.result['throughput'] = throughput[plain.key]
    for entry in entries:
        unit = owner[entry.name]
        result = dict(throughput[unit], unit=unit,
                      plain_views_per_s=throughput[unit_plain[unit]][
                          'views_per_s'])
        entry.result['throughput'] = result
        entry.result['ratios']['throughput'] = (
            result['views_per_s'] / result['plain_views_per_s'])


def measure_training(entries: List[Entry], plains: Dict[str, Plain], args,
                     device: torch.device) -> None:
    """Peak memory of one step per model, then interleaved step times."""
    steps = {plain.key: TrainStep(plain.model, args.train_batch, plain.shape,
                                  device)
             for plain in plains.values()}
    for entry in entries:
        steps[entry.name] = TrainStep(entry.model, args.train_batch,
                                      entry.shape, device)
    log(f'training: {len(steps)} models, memory step + {args.train_warmup} '
        f'warm-up + {args.train_repeats} timed rounds, {args.train_batch} '
        'clip(s) of one view')
    memory = {}
    for key, step in steps.items():
        memory[key] = train_peak_memory(step)  # also the first warm-up
    log('  memory measured')
    times = interleaved_timings(
        steps, device, args.train_warmup, args.train_repeats,
        on_round=lambda r: log(f'  training round {r + 1}/'
                               f'{args.train_repeats}'))
    measure = (CUDA_MEMORY_MEASURE if device.type == 'cuda' else
               CPU_MEMORY_MEASURE)
    for plain in plains.values():
        plain.result['train_step'] = dict(ms=summarize(times[plain.key]))
        plain.result['train_memory'] = dict(
            batch=args.train_batch, peak_mib=memory[plain.key] / MIB,
            measure=measure)
    for entry in entries:
        plain_key = plains[entry.plain_key].key
        timing = paired_summary(times, entry.name, plain_key)
        entry.result['train_step'] = timing
        entry.result['ratios']['train_step'] = timing['paired_ratio']
        entry.result['train_memory'] = dict(
            batch=args.train_batch, peak_mib=memory[entry.name] / MIB,
            plain_peak_mib=memory[plain_key] / MIB, measure=measure)
        entry.result['ratios']['train_memory'] = (memory[entry.name] /
                                                  memory[plain_key])


def measure_attention(entries: List[Entry], args,
                      device: torch.device) -> Dict[str, Any]:
    """STDHA vs plain attention at the size (and offsets) of the first
    config with STDHA (or the first config, with offsets {+1: 1, -1: 1})."""
    source = next((entry for entry in entries
                   if backbone_cfg(entry.model_cfg).get('stdha')), entries[0])
    backbone = getattr(source.model, 'backbone', source.model)
    offsets = (backbone_cfg(source.model_cfg).get('stdha')
               or dict(offsets={1: 1, -1: 1}))['offsets']
    offsets = {int(k): int(v) for k, v in offsets.items()}
    repeats = max(args.repeats, 3) * 3
    log(f'attention: STDHA {offsets} vs plain, {repeats} rounds')
    result = attention_benchmark(
        dict(backbone.arch), int(backbone.frames_per_block[0]), offsets,
        source.views, device, max(args.warmup, 1), repeats)
    result['config'] = source.name
    log(f"STDHA attention / plain attention: layer "
        f"x{result['layer']['paired_ratio']:.3f}, core "
        f"x{result['core']['paired_ratio']:.3f}")
    return result


def run_benchmark(args, device: torch.device) -> Dict[str, Any]:
    started = time.time()
    entries, plains = build_entries(args, device)
    if not args.counts_only:
        measure_inference(entries, plains, args, device)
    for entry in entries:
        entry.deployed = None  # the merged copies are not needed any more
    if not (args.no_train or args.counts_only):
        measure_training(entries, plains, args, device)
    report: Dict[str, Any] = dict(
        plain=[plain.result for plain in plains.values()],
        results=[entry.result for entry in entries])
    if not (args.no_attention or args.counts_only):
        report['attention'] = measure_attention(entries, args, device)
    report['seconds'] = round(time.time() - started, 1)
    return report


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine(device: torch.device) -> Dict[str, Any]:
    info = dict(platform=platform.platform(), python=platform.python_version(),
                torch=torch.__version__, device=device.type,
                threads=torch.get_num_threads(), cpu_count=os.cpu_count())
    try:
        with open('/proc/cpuinfo') as handle:
            names = [line.split(':', 1)[1].strip() for line in handle
                     if line.startswith('model name')]
        info['cpu'] = names[0] if names else platform.processor()
    except OSError:
        info['cpu'] = platform.processor()
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['amp'] = 'fp16 autocast'
    if hasattr(os, 'getloadavg'):
        info['load_average_at_start'] = [round(v, 2)
                                         for v in os.getloadavg()]
    return info


# ----------------------------------------------------------------- outputs
def parse_accuracy(values: Optional[List[str]]) -> Dict[str, float]:
    accuracy: Dict[str, float] = {}
    for value in values or []:
        if '=' in value:
            key, top1 = value.split('=', 1)
            try:
                accuracy[key] = float(top1)
            except ValueError:
                raise SystemExit(f'--accuracy {value}: TOP1 must be a '
                                 'number') from None
        else:
            try:
                with open(value) as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as error:
                raise SystemExit(f'--accuracy {value}: not NAME=TOP1 and not '
                                 f'a readable JSON file ({error})') from None
            accuracy.update({k: float(v) for k, v in data.items()})
    return accuracy


def num(value: float, digits: int = 4) -> str:
    """``digits`` significant digits, never in exponent notation."""
    if value == 0:
        return '0'
    decimals = max(0, digits - 1 - int(f'{abs(value):e}'.split('e')[1]))
    return f'{value:.{decimals}f}'


def with_ratio(value: Optional[float], ratio: Optional[float],
               digits: int = 4) -> str:
    if value is None:
        return 'n/a'
    text = num(value, digits)
    return f'{text} (x{ratio:.3f})' if ratio is not None else text


def timing_cell(summary: Optional[dict], ratio: Optional[float]) -> str:
    if not summary:
        return 'n/a'
    ms = summary['ms']
    text = f"{num(ms['median'])} ±{num(ms['iqr'] / 2, 2)}"
    return f'{text} (x{ratio:.3f})' if ratio is not None else text


def settings_line(report: Dict[str, Any]) -> str:
    info, settings = report['machine'], report['settings']
    if settings.get('counts_only'):
        return 'Settings: parameter and FLOP counts only (--counts-only).'
    parts = [f"latency {settings['warmup']} warm-up + {settings['repeats']} "
             'timed rounds, batch 1 clip']
    if settings.get('throughput'):
        parts.append(f"throughput batch <= {settings['max_batch']} views")
    if settings.get('train'):
        parts.append(f"training {settings['train_batch']} clip(s) of one "
                     f"view, memory step + {settings['train_warmup']} warm-up"
                     f" + {settings['train_repeats']} timed rounds")
    parts.append('AMP fp16' if info['device'] == 'cuda' else 'fp32')
    return (f"Settings: {'; '.join(parts)}; "
            f"{report.get('seconds', 0):.0f} s in all.")


def markdown(report: Dict[str, Any]) -> str:
    info, settings = report['machine'], report['settings']
    where = info.get('gpu') or info.get('cpu')
    accuracy = report.get('accuracy') or {}
    memory_measure = next(
        (row['train_memory']['measure'] for row in report['results']
         if row.get('train_memory')), None)
    lines = [
        f"Machine: {where}, {info['device']}, {info['threads']} threads, "
        f"torch {info['torch']}"
        + (f"; load average {info['load_average_at_start']} at start, "
           f"{info.get('load_average_at_end')} at end"
           if 'load_average_at_start' in info else '') + '.',
        settings_line(report),
        '',
        'Every figure: value (x ratio to the plain image ViT of the same size '
        'measured in the same run; for times the median of the per-round '
        'ratios). Times: median ± half the inter-quartile range over the '
        'rounds. Parameters, GFLOPs, latency and throughput are of the '
        'deployed model (mergeable updates folded); "unmerged" rows are the '
        'model as trained. Training columns are of the model as trained.',
    ]
    if memory_measure:
        lines.append(f'Training peak memory: {memory_measure}.')
    header = ['config', 'method', 'params (M)', 'trainable (M)',
              'new at inference (M)', 'GFLOPs / view', 'GFLOPs / clip',
              'latency (ms)', 'throughput (views/s)',
              'train peak memory (MiB)', 'train step (ms)']
    if accuracy:
        header.append('top-1')
    lines += ['', '| ' + ' | '.join(header) + ' |',
              '|' + ' --- |' * len(header)]
    shared_note = {}

    def latency_cell(row, field):
        summary = row.get(field)
        if not summary:
            return 'n/a'
        text = timing_cell(summary, summary['paired_ratio'])
        unit = summary.get('unit')
        own = row['name'] + (':unmerged' if field == 'latency_unmerged'
                             else '')
        if unit and unit != own:
            shared_note[own] = unit
            text += ' ¹'
        return text

    for plain in report['plain']:
        cells = [f"plain ({plain['key']})", 'image ViT, all trainable',
                 num(plain['params']['total'] / 1e6),
                 num(plain['params']['total'] / 1e6), '0',
                 num(plain['gflops']['per_view']),
                 f"{num(plain['gflops']['per_clip'])} "
                 f"({plain['test_views']} views)",
                 timing_cell(plain.get('latency'), None),
                 num(plain['throughput']['views_per_s'])
                 if plain.get('throughput') else 'n/a',
                 num(plain['train_memory']['peak_mib'])
                 if plain.get('train_memory') else 'n/a',
                 timing_cell(plain.get('train_step'), None)]
        if accuracy:
            top1 = accuracy.get(plain['key'])
            cells.append('n/a' if top1 is None else f'{top1:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    for row in report['results']:
        params, ratios = row['params'], row['ratios']
        throughput, memory = row.get('throughput'), row.get('train_memory')
        cells = [
            row['name'], row['method'],
            with_ratio(params['deployed'] / 1e6, ratios['params_deployed']),
            num(params['trainable'] / 1e6),
            num(params['new_after_merge'] / 1e6),
            with_ratio(row['gflops']['per_view'], ratios['gflops']),
            f"{num(row['gflops']['per_clip'])} ({row['test_views']} views)",
            latency_cell(row, 'latency'),
            with_ratio(throughput['views_per_s'], ratios['throughput'])
            if throughput else 'n/a',
            with_ratio(memory['peak_mib'], ratios['train_memory'])
            if memory else 'n/a',
            timing_cell(row.get('train_step'), ratios.get('train_step')),
        ]
        if accuracy:
            top1 = accuracy.get(row['name'])
            cells.append('n/a' if top1 is None else f'{top1:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
        if row.get('latency_unmerged') or row['merged']:
            gflops = row['gflops']
            cells = [
                f"{row['name']} unmerged", 'as trained',
                with_ratio(params['total'] / 1e6, ratios['params']),
                '', num((params['total'] - params['plain']) / 1e6),
                with_ratio(gflops['per_view_unmerged'],
                           ratios['gflops_unmerged']),
                f"{num(gflops['per_view_unmerged'] * row['test_views'])} "
                f"({row['test_views']} views)",
                latency_cell(row, 'latency_unmerged'), '', '', '']
            if accuracy:
                cells.append('')
            lines.append('| ' + ' | '.join(cells) + ' |')
    if shared_note:
        lines += ['', '¹ the same network as another row, timed once: ' +
                  '; '.join(f'{own} = {unit}'
                            for own, unit in shared_note.items()) + '.']
    lines += ['', 'Plain image ViTs (the ratios\' reference):', '']
    for plain in report['plain']:
        lines.append(
            f"* {plain['key']}: {plain['size']}; "
            f"{num(plain['params']['image_vit'] / 1e6)}M parameters + "
            f"{plain['params']['temporal_embedding']} of temporal embedding "
            f"(T x D); {num(plain['gflops']['per_view'])} GFLOPs per view "
            f"{tuple(plain['view_shape'])}.")
    attention = report.get('attention')
    if attention:
        layer, core = attention['layer'], attention['core']
        lines += [
            '', f"STDHA attention vs plain attention (same weights, input "
            f"{tuple(attention['shape'])}, offsets {attention['offsets']}, "
            f"{attention['temporal_heads']} of {attention['heads']} heads "
            f"temporal, size of {attention['config']}): whole layer "
            f"{num(layer['ms']['median'])} vs "
            f"{num(layer['plain_ms']['median'])} ms, "
            f"x{layer['paired_ratio']:.3f}; relocation + attention "
            f"between the projections {num(core['ms']['median'])} vs "
            f"{num(core['plain_ms']['median'])} ms, "
            f"x{core['paired_ratio']:.3f} (medians of per-round ratios)."]
    if report.get('plot'):
        lines += ['', f"Top-1 vs GFLOPs per clip: {report['plot']}"]
    elif report.get('plot_error'):
        lines += ['', f"No plot: {report['plot_error']}"]
    return '\n'.join(lines) + '\n'


def plot_accuracy(report: Dict[str, Any], path: str) -> None:
    """Top-1 vs GFLOPs per clip of every config with an accuracy. Raises
    ImportError when matplotlib is missing."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 4))
    for row in report['results']:
        top1 = report['accuracy'].get(row['name'])
        if top1 is None:
            continue
        x = row['gflops']['per_clip']
        axes.scatter([x], [top1])
        axes.annotate(row['name'], (x, top1), fontsize=7,
                      xytext=(3, 3), textcoords='offset points')
    axes.set_xlabel('GFLOPs per clip (test views, deployed model)')
    axes.set_ylabel('top-1 (%)')
    axes.grid(alpha=0.3)
    figure.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


# ------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='See the module docstring (top of tools/benchmark.py) for '
        'what each figure is and how it is measured.')
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default=None,
                        help='default: cuda when available')
    parser.add_argument('--json', help='write all results here')
    parser.add_argument('--md', help='write the Markdown table here')
    parser.add_argument('--accuracy', nargs='+', metavar='ACC',
                        help='JSON file {config name: top-1} or NAME=TOP1')
    parser.add_argument('--plot', help='top-1 vs GFLOPs plot (PNG); default '
                        '<md stem>_accuracy.png with --md and --accuracy')
    parser.add_argument('--quick', action='store_true',
                        help='smoke test: 1 warm-up and 2 timed rounds, 1 '
                        'timed training round, throughput batch 2, 3 '
                        'attention rounds')
    parser.add_argument('--warmup', type=int, default=None,
                        help='inference warm-up rounds (default 1 on cpu, '
                        '3 on cuda)')
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed inference rounds (default 5 on cpu, 20 '
                        'on cuda)')
    parser.add_argument('--train-warmup', type=int, default=None,
                        help='training warm-up rounds after the memory step '
                        '(default 0 on cpu, 2 on cuda)')
    parser.add_argument('--train-repeats', type=int, default=None,
                        help='timed training rounds (default 3 on cpu, 10 on '
                        'cuda)')
    parser.add_argument('--train-batch', type=int, default=None,
                        help='clips per training step (default 1 on cpu, 8 '
                        'on cuda)')
    parser.add_argument('--max-batch', type=int, default=None,
                        help='throughput batch cap in views (default 1024 '
                        'on cuda, 4 on cpu)')
    parser.add_argument('--views', type=int, default=None,
                        help='views per clip for latency (default: the '
                        "config's test views)")
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads (default: torch default)')
    parser.add_argument('--no-throughput', action='store_true')
    parser.add_argument('--no-train', action='store_true')
    parser.add_argument('--no-attention', action='store_true')
    parser.add_argument('--no-unmerged', action='store_true',
                        help='do not time the unmerged models of configs '
                        'that merge')
    parser.add_argument('--no-share', action='store_true',
                        help='time identical deployed networks separately')
    parser.add_argument('--counts-only', action='store_true',
                        help='parameters and GFLOPs only: no timing, no '
                        'training (fast)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='applied to every config')
    args = parser.parse_args(argv)
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device available')
    cuda = args.device == 'cuda'
    if args.quick:
        defaults = dict(warmup=1, repeats=2, train_warmup=0, train_repeats=1,
                        train_batch=1, max_batch=2)
    else:
        defaults = dict(warmup=3 if cuda else 1, repeats=20 if cuda else 5,
                        train_warmup=2 if cuda else 0,
                        train_repeats=10 if cuda else 3,
                        train_batch=8 if cuda else 1,
                        max_batch=1024 if cuda else 4)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.repeats, args.train_repeats, args.train_batch,
           args.max_batch) < 1 or min(args.warmup, args.train_warmup) < 0:
        parser.error('--repeats, --train-repeats, --train-batch and '
                     '--max-batch must be >= 1, warm-ups >= 0')
    if args.views is not None and args.views < 1:
        parser.error('--views must be >= 1')
    for path in args.configs:
        if not osp.isfile(path):
            parser.error(f'config not found: {path}')
    return args


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    info = machine(device)
    report = run_benchmark(args, device)
    if hasattr(os, 'getloadavg'):
        info['load_average_at_end'] = [round(v, 2) for v in os.getloadavg()]
    report['machine'] = info
    report['settings'] = dict(
        warmup=args.warmup, repeats=args.repeats,
        train_warmup=args.train_warmup, train_repeats=args.train_repeats,
        train_batch=args.train_batch, max_batch=args.max_batch,
        views=args.views, quick=args.quick, share=not args.no_share,
        throughput=not args.no_throughput, train=not args.no_train,
        counts_only=args.counts_only,
        command=' '.join(sys.argv))
    accuracy = parse_accuracy(args.accuracy)
    if accuracy:
        report['accuracy'] = accuracy
        plot = args.plot or (osp.splitext(args.md)[0] + '_accuracy.png'
                             if args.md else None)
        if plot is None:
            report['plot_error'] = ('give --plot PATH (or --md) to write the '
                                    'top-1 vs GFLOPs plot')
        else:
            try:
                plot_accuracy(report, plot)
                report['plot'] = plot
            except ImportError:
                report['plot_error'] = (
                    'matplotlib is not installed (pip install matplotlib); '
                    'the accuracies are in the table and the JSON')
        if report.get('plot_error'):
            log(f"no plot: {report['plot_error']}")
    text = markdown(report)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as handle:
            json.dump(report, handle, indent=2)
    if args.md:
        os.makedirs(osp.dirname(osp.abspath(args.md)), exist_ok=True)
        with open(args.md, 'w') as handle:
            handle.write(text)
    print(text)
    return report


if __name__ == '__main__':
    main()
