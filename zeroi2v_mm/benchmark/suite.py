"""A benchmark run over several configs: build each config's model, its
deployed copy and the plain image ViT of its size; count parameters and
FLOPs; time inference, throughput and training in interleaved rounds; the
STDHA attention micro-benchmark. :func:`benchmark` returns the report (a
JSON-ready dict) that :mod:`.report` renders."""
import json
import os
import os.path as osp
import platform
import sys
import time
from typing import Any, Dict, List, Tuple

import torch
import torch.nn as nn

from mmaction.utils import register_all_modules

from .models import (backbone_cfg, build_model, deployed, describe_method,
                     frozen_by_lr_mult, load_config, measure_static,
                     plain_model_cfg, signature, size_label, test_views,
                     view_shape_of)
from .runners import (CPU_MEMORY_MEASURE, CUDA_MEMORY_MEASURE, MIB, TrainStep,
                      attention_benchmark, inference_call, throughput_batch,
                      train_peak_memory)
from .settings import BenchmarkSettings
from .timing import interleaved_timings, make_clips, paired_summary, summarize


class Entry:
    """One config of the run: its models, settings and results."""

    def __init__(self, path: str, settings: BenchmarkSettings,
                 device: torch.device):
        self.cfg = load_config(path, settings.cfg_options)
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
        self.views = settings.views or test_views(self.cfg)
        self.plain_cfg = plain_model_cfg(self.model_cfg)
        self.plain_key = json.dumps(
            self.plain_cfg, sort_keys=True, default=str) + f'|{self.views}'
        self.result: Dict[str, Any] = dict(
            config=path,
            name=self.name,
            method=describe_method(self.model_cfg),
            view_shape=list(self.shape),
            test_views=self.views,
            merged=self.merges)
        compress = backbone_cfg(self.model_cfg).get('compress')
        if compress:
            # frame compression: the plain model of this config is the
            # naive one (all frames through every block)
            backbone = getattr(self.model, 'backbone', self.model)
            self.result['compress'] = dict(
                type=compress.get('type'),
                after_blocks=list(compress.get('after_blocks', ())),
                frames_per_block=[
                    int(f) for f in getattr(backbone, 'frames_per_block', [])
                ])


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
        # InTI's naive model has none (temporal_embedding=False)
        self.temporal_numel = 0 if temporal is None else temporal.numel()
        self.result: Dict[str, Any] = dict(
            key=self.key,
            size=self.size,
            view_shape=list(self.shape),
            test_views=self.views,
            params=dict(
                total=self.static['params'],
                image_vit=self.static['params'] - self.temporal_numel,
                temporal_embedding=self.temporal_numel),
            gflops=dict(
                per_view=self.static['gflops'],
                per_clip=self.static['gflops'] * self.views,
                flops=self.static['flops']))


def count_static(entry: Entry, plain: Plain) -> None:
    model, deploy = entry.model, entry.deployed
    train_static = measure_static(model, entry.shape)
    deploy_static = (
        measure_static(deploy, entry.shape) if entry.merges else train_static)
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
        flops=deploy_static['flops'],
        flops_unmerged=train_static['flops'],
        plain_flops=plain_static['flops'])
    entry.result['ratios'] = dict(
        params=train_static['params'] / plain_static['params'],
        params_deployed=deploy_static['params'] / plain_static['params'],
        gflops=deploy_static['flops'] / plain_static['flops'],
        gflops_unmerged=train_static['flops'] / plain_static['flops'])


def inference_units(
    entries: List[Entry], plains: Dict[str, Plain], settings: BenchmarkSettings
) -> Tuple[Dict[str, nn.Module], Dict[str, str], Dict[str, str]]:
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
        if settings.share and sig in by_signature:
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
        if entry.merges and settings.unmerged:
            add(f'{entry.name}:unmerged', entry.model, plain_key, entry.views)
    return units, owner, unit_plain


def build_entries(settings: BenchmarkSettings, device: torch.device
                  ) -> Tuple[List[Entry], Dict[str, Plain]]:
    """Build every config's model (and merged copy) and its plain model;
    count parameters and FLOPs."""
    entries: List[Entry] = []
    plains: Dict[str, Plain] = {}
    for path in settings.configs:
        entry = Entry(path, settings, device)
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
        raise ValueError(f'config names (file stems) must be unique: {names}')
    return entries, plains


def measure_inference(entries: List[Entry], plains: Dict[str, Plain],
                      settings: BenchmarkSettings,
                      device: torch.device) -> None:
    """Latency (and throughput) of every network, interleaved."""
    plain_of = {plain.key: plain for plain in plains.values()}
    units, owner, unit_plain = inference_units(entries, plains, settings)

    inputs: Dict[tuple, torch.Tensor] = {}

    def clips_for(key: str, batch: int, views: int) -> torch.Tensor:
        """One input tensor per view shape, shared by every network that
        reads it (a slice of the largest batch asked for)."""
        shape = plain_of[unit_plain[key]].shape
        size = (views, ) + tuple(shape)
        if size not in inputs or inputs[size].shape[0] < batch:
            inputs[size] = make_clips(batch, views, shape, device)
        return inputs[size][:batch]

    calls = {
        key:
        inference_call(model, clips_for(key, 1,
                                        plain_of[unit_plain[key]].views),
                       device)
        for key, model in units.items()
    }
    if settings.compile:
        # Compiled during the warm-up rounds (Inductor needs at least one).
        for key, model in list(units.items()):
            if not key.endswith(':unmerged'):
                calls[f'{key}:compiled'] = inference_call(
                    torch.compile(model),
                    clips_for(key, 1, plain_of[unit_plain[key]].views), device)
    log(f'latency: {len(calls)} networks x ({settings.warmup} warm-up + '
        f'{settings.repeats} timed) rounds, batch 1 clip')
    times = interleaved_timings(
        calls,
        device,
        settings.warmup,
        settings.repeats,
        on_round=lambda r: log(f'  latency round {r + 1}/{settings.repeats}'))
    latency = {
        key: paired_summary(times, key, unit_plain[key])
        for key in units
    }
    compiled = {
        key: paired_summary(times, f'{key}:compiled', key)
        for key in units if f'{key}:compiled' in times
    }
    for plain in plains.values():
        plain.result['latency'] = dict(ms=latency[plain.key]['ms'])
        if plain.key in compiled:
            plain.result['latency_compiled'] = compiled[plain.key]
    for entry in entries:
        for key, field in ((entry.name, 'latency'), (f'{entry.name}:unmerged',
                                                     'latency_unmerged')):
            if key not in owner:
                continue
            result = dict(latency[owner[key]], unit=owner[key])
            entry.result[field] = result
            entry.result['ratios'][field] = result['paired_ratio']
        unit = owner[entry.name]
        if unit in compiled:
            # paired ratio here: compiled / eager of the same network
            entry.result['latency_compiled'] = dict(compiled[unit], unit=unit)
            entry.result['ratios']['compiled_vs_eager'] = compiled[unit][
                'paired_ratio']
    if not settings.throughput:
        return

    deploy_units = {
        key: model
        for key, model in units.items() if not key.endswith(':unmerged')
    }
    inputs.clear()
    batches = {
        key:
        throughput_batch(model, plain_of[unit_plain[key]].shape, device,
                         settings.max_batch)
        for key, model in deploy_units.items()
    }
    for key in sorted(batches, key=batches.get, reverse=True):
        clips_for(key, batches[key], 1)  # the largest batch first
    calls = {
        key: inference_call(model, clips_for(key, batches[key], 1), device)
        for key, model in deploy_units.items()
    }
    rounds = max(1, settings.repeats // 2)
    log(f'throughput: {len(calls)} networks x ({min(settings.warmup, 1)} '
        f'warm-up + {rounds} timed) rounds')
    times = interleaved_timings(calls, device, min(settings.warmup, 1), rounds)
    throughput = {}
    for key in calls:
        ms = summarize(times[key])
        throughput[key] = dict(
            batch_views=batches[key],
            ms=ms,
            views_per_s=1e3 * batches[key] / ms['median'])
    for plain in plains.values():
        plain.result['throughput'] = throughput[plain.key]
    for entry in entries:
        unit = owner[entry.name]
        result = dict(
            throughput[unit],
            unit=unit,
            plain_views_per_s=throughput[unit_plain[unit]]['views_per_s'])
        entry.result['throughput'] = result
        entry.result['ratios']['throughput'] = (
            result['views_per_s'] / result['plain_views_per_s'])


def measure_training(entries: List[Entry], plains: Dict[str, Plain],
                     settings: BenchmarkSettings,
                     device: torch.device) -> None:
    """Peak memory of one step per model, then interleaved step times."""
    steps = {
        plain.key:
        TrainStep(plain.model, settings.train_batch, plain.shape, device)
        for plain in plains.values()
    }
    for entry in entries:
        steps[entry.name] = TrainStep(entry.model, settings.train_batch,
                                      entry.shape, device)
    log(f'training: {len(steps)} models, memory step + '
        f'{settings.train_warmup} warm-up + {settings.train_repeats} timed '
        f'rounds, {settings.train_batch} '
        'clip(s) of one view')
    memory = {}
    for key, step in steps.items():
        memory[key] = train_peak_memory(step)  # also the first warm-up
    log('  memory measured')
    times = interleaved_timings(
        steps,
        device,
        settings.train_warmup,
        settings.train_repeats,
        on_round=lambda r: log(f'  training round {r + 1}/'
                               f'{settings.train_repeats}'))
    measure = (
        CUDA_MEMORY_MEASURE if device.type == 'cuda' else CPU_MEMORY_MEASURE)
    for plain in plains.values():
        plain.result['train_step'] = dict(ms=summarize(times[plain.key]))
        plain.result['train_memory'] = dict(
            batch=settings.train_batch,
            peak_mib=memory[plain.key] / MIB,
            measure=measure)
    for entry in entries:
        plain_key = plains[entry.plain_key].key
        timing = paired_summary(times, entry.name, plain_key)
        entry.result['train_step'] = timing
        entry.result['ratios']['train_step'] = timing['paired_ratio']
        entry.result['train_memory'] = dict(
            batch=settings.train_batch,
            peak_mib=memory[entry.name] / MIB,
            plain_peak_mib=memory[plain_key] / MIB,
            measure=measure)
        entry.result['ratios']['train_memory'] = (
            memory[entry.name] / memory[plain_key])


def measure_attention(entries: List[Entry], settings: BenchmarkSettings,
                      device: torch.device) -> Dict[str, Any]:
    """STDHA vs plain attention at the size (and offsets) of the first
    config with STDHA (or the first config, with offsets {+1: 1, -1: 1})."""
    source = next(
        (entry
         for entry in entries if backbone_cfg(entry.model_cfg).get('stdha')),
        entries[0])
    backbone = getattr(source.model, 'backbone', source.model)
    # the backbone's checked {dt: heads}, whichever form the config used
    offsets = dict((getattr(backbone, 'stdha_cfg', None) or dict(offsets={
        1: 1,
        -1: 1
    }))['offsets'])
    repeats = max(settings.repeats, 3) * 3
    log(f'attention: STDHA {offsets} vs plain, {repeats} rounds')
    result = attention_benchmark(
        dict(backbone.arch), int(backbone.frames_per_block[0]), offsets,
        source.views, device, max(settings.warmup, 1), repeats)
    result['config'] = source.name
    log(f"STDHA attention / plain attention: layer "
        f"x{result['layer']['paired_ratio']:.3f}, core "
        f"x{result['core']['paired_ratio']:.3f}")
    return result


def run_benchmark(settings: BenchmarkSettings,
                  device: torch.device) -> Dict[str, Any]:
    started = time.time()
    entries, plains = build_entries(settings, device)
    if not settings.counts_only:
        measure_inference(entries, plains, settings, device)
    for entry in entries:
        entry.deployed = None  # the merged copies are not needed any more
    if settings.train and not settings.counts_only:
        measure_training(entries, plains, settings, device)
    report: Dict[str, Any] = dict(
        plain=[plain.result for plain in plains.values()],
        results=[entry.result for entry in entries])
    if settings.attention and not settings.counts_only:
        report['attention'] = measure_attention(entries, settings, device)
    report['seconds'] = round(time.time() - started, 1)
    return report


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine(device: torch.device) -> Dict[str, Any]:
    info = dict(
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        device=device.type,
        threads=torch.get_num_threads(),
        cpu_count=os.cpu_count())
    try:
        with open('/proc/cpuinfo') as handle:
            names = [
                line.split(':', 1)[1].strip() for line in handle
                if line.startswith('model name')
            ]
        info['cpu'] = names[0] if names else platform.processor()
    except OSError:
        info['cpu'] = platform.processor()
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['amp'] = 'fp16 autocast'
    if hasattr(os, 'getloadavg'):
        info['load_average_at_start'] = [round(v, 2) for v in os.getloadavg()]
    return info


def benchmark(settings: BenchmarkSettings) -> Dict[str, Any]:
    """Run everything ``settings`` asks for; returns the report: ``plain``
    (one row per plain model), ``results`` (one row per config),
    ``attention``, ``seconds``, ``machine`` and ``settings``."""
    settings.validate()
    register_all_modules(init_default_scope=True)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = torch.device(settings.device)
    torch.manual_seed(0)
    info = machine(device)
    report = run_benchmark(settings, device)
    if hasattr(os, 'getloadavg'):
        info['load_average_at_end'] = [round(v, 2) for v in os.getloadavg()]
    report['machine'] = info
    report['settings'] = settings.for_report()
    return report
