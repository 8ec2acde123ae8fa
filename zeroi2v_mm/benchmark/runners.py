"""What is measured on one network: inference calls, the largest batch
that fits, a training step with its peak memory, and the STDHA attention
micro-benchmark with the attention kernels that ran."""
from typing import Any, Callable, Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..utils.complexity import is_recognizer, recognizer_logits
from .timing import (autocast, interleaved_timings, is_oom, make_clips,
                     paired_summary, synchronize)

MIB = 2**20

CPU_MEMORY_MEASURE = ('parameters + buffers + AdamW state, plus the peak '
                      'running sum of tensor allocations during the step '
                      '(torch.profiler, profile_memory=True)')

CUDA_MEMORY_MEASURE = ('parameters + buffers + AdamW state, plus '
                       'torch.cuda.max_memory_allocated during the step minus '
                       'the allocation before it')


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


class TrainStep:
    """One training step (forward, cross-entropy, backward, AdamW step) of
    ``model`` as configured (frozen parameters stay frozen). The AdamW state
    is created up front (a step on zero gradients with lr 0, which changes
    no weight), so every measured step sees the steady-state memory."""

    def __init__(self,
                 model: nn.Module,
                 batch: int,
                 shape: tuple,
                 device: torch.device,
                 lr: float = 1e-4):
        self.model = model.train()
        self.device = device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.params, lr=lr, weight_decay=0.05)
        self.scaler = torch.amp.GradScaler(
            'cuda', enabled=device.type == 'cuda')
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
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
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


SDPA_KERNEL_MARKERS = ('scaled_dot_product', 'flash', 'fmha',
                       'efficient_attention', 'cudnn', 'attention')


def sdpa_kernels(run: Callable[[], Any], device: torch.device) -> List[str]:
    """Names of the attention ops and kernels one call of ``run`` ran,
    from ``torch.profiler`` (CUDA kernels on a GPU: flash, memory-efficient,
    cuDNN or the math fall-back; the ATen ops on a CPU)."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        run()
        synchronize(device)
    names = set()
    for event in prof.events():
        name = event.name
        on_gpu = getattr(event, 'device_type', None) == \
            torch.autograd.DeviceType.CUDA
        if device.type == 'cuda' and not on_gpu:
            continue
        if any(marker in name.lower() for marker in SDPA_KERNEL_MARKERS):
            names.add(name)
    return sorted(names)


def attention_core(qkv: torch.Tensor, heads: int, groups, num_frames: int):
    """STDHAttention's forward between its projections, on a q/k/v buffer
    ``(B*T, L, 3C)`` (relocated in place on a copy, as the layer does on its
    fresh projection output)."""
    from ..models.layers.stdha import shift_heads_in_time_
    rows, length, width3 = qkv.shape
    qkv = qkv.view(rows, length, 3, heads, width3 // (3 * heads))
    shift_heads_in_time_(qkv[:, :, 1:], groups, num_frames)
    q, k, v = qkv.unbind(2)
    return F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))


def attention_benchmark(arch: dict, num_frames: int, offsets: dict, views: int,
                        device: torch.device, warmup: int,
                        repeats: int) -> Dict[str, Any]:
    """One STDHA layer vs the same layer without head relocation (whole
    layer and its core between the projections)."""
    from ..models.layers import STDHAttention
    width, heads = arch['width'], arch['heads']
    tokens = (arch['image_size'] // arch['patch_size'])**2 + 1
    stdha = STDHAttention(width, heads, num_frames, offsets=offsets)
    plain = STDHAttention(width, heads, num_frames, offsets=None)
    plain.load_state_dict(stdha.state_dict())
    stdha, plain = stdha.to(device).eval(), plain.to(device).eval()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(
        views * num_frames, tokens, width, generator=generator).to(device)
    qkv = torch.randn(
        views * num_frames, tokens, 3 * width, generator=generator).to(device)

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
        dict(
            layer_stdha=layer(stdha),
            layer_plain=layer(plain),
            core_stdha=core(stdha.head_groups),
            core_plain=core([])), device, warmup, repeats)
    result = dict(
        layer=paired_summary(times, 'layer_stdha', 'layer_plain'),
        core=paired_summary(times, 'core_stdha', 'core_plain'))
    result['sdpa_kernels'] = dict(
        stdha=sdpa_kernels(layer(stdha), device),
        plain=sdpa_kernels(layer(plain), device))
    result.update(
        shape=list(x.shape),
        heads=heads,
        temporal_heads=stdha.head_groups[-1][1],
        offsets={
            str(k): v
            for k, v in offsets.items()
        })
    return result
