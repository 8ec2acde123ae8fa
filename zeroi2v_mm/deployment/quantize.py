"""int8 and fp16 versions of an exported ONNX recognizer, and their checks.

int8 uses onnxruntime's own quantization (``onnxruntime.quantization``):
static QDQ (uint8 activations, int8 per-channel weights, MinMax ranges)
calibrated on real clips (:func:`zeroi2v_mm.deployment.clips.iter_clips`),
or dynamic quantization (weights only, activation ranges found at run time)
when there are no clips. What stays in float is chosen by groups
(:data:`KEEP_FLOAT_GROUPS`):

* ``elementwise``: only the weight-heavy operators (MatMul, Gemm, Conv) are
  quantized; layer norms, softmax, residual adds, GELU stay float (onnxruntime
  fuses Q/DQ pairs around MatMul/Conv into integer kernels; around the other
  operators they only add conversions and error);
* ``attention``: the two activation x activation MatMuls of each attention
  (``q @ k^T`` before the softmax, ``attn @ v`` after it) stay float;
* ``head``: the classifier stays float.

fp16 converts the graph with onnxruntime's converter
(``onnxruntime.transformers.float16``; inputs and outputs stay float32) and
is checked for overflow: every intermediate tensor of the float32 graph is
measured on the same clips against the float16 range.

:func:`verify_quantized` compares a converted file with the PyTorch model on
clips: top-1 agreement (of the clip's view-averaged scores) and the largest
score difference; below the agreement threshold it raises
:class:`~zeroi2v_mm.deployment.ExportVerificationError`.
"""
import os
import os.path as osp
import statistics
import tempfile
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from .export import ExportVerificationError

KEEP_FLOAT_GROUPS = ('elementwise', 'attention', 'head')
# What ``--keep-float`` defaults to; the measurements behind the choice are in
# docs/en/user_guides/deployment.md ("int8").
DEFAULT_KEEP_FLOAT = ('elementwise', 'attention', 'head')
WEIGHT_OPS = ('MatMul', 'Gemm', 'Conv')
FP16_MAX = float(np.finfo(np.float16).max)  # 65504


def _session(path: str, threads: Optional[int] = None):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])


def _constant_names(graph) -> Set[str]:
    names = {init.name for init in graph.initializer}
    names |= {
        out
        for node in graph.node if node.op_type == 'Constant'
        for out in node.output
    }
    return names


def attention_matmuls(graph) -> List[str]:
    """MatMul nodes both of whose inputs are activations (no weight): the
    ``q @ k^T`` and ``attn @ v`` products of each attention layer."""
    constants = _constant_names(graph)
    return [
        node.name for node in graph.node
        if node.op_type == 'MatMul' and not any(name in constants
                                                for name in node.input)
    ]


def head_nodes(graph) -> List[str]:
    """The classifier: walking back from the graph's output, the nodes up to
    and including the first MatMul / Gemm with a weight."""
    constants = _constant_names(graph)
    producer = {out: node for node in graph.node for out in node.output}
    found: List[str] = []
    frontier = [out.name for out in graph.output]
    seen = set()
    while frontier:
        name = frontier.pop()
        node = producer.get(name)
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        found.append(node.name)
        if node.op_type in ('MatMul', 'Gemm') and any(i in constants
                                                      for i in node.input):
            continue  # the classifier's matrix: stop on this path
        frontier += [i for i in node.input if i not in constants]
        if len(found) > 16:
            raise ValueError('could not find the classifier (a MatMul/Gemm '
                             'with weights) within 16 nodes of the output')
    return found


class _ClipReader:
    """onnxruntime's calibration data reader over ``(N, 3, T, H, W)``
    clips (one batch per clip)."""

    def __init__(self, input_name: str, clips: Iterable[Tensor]):
        self.input_name = input_name
        self.clips = iter(clips)
        self.count = 0

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        clip = next(self.clips, None)
        if clip is None:
            return None
        self.count += 1
        return {
            self.input_name:
            np.ascontiguousarray(
                clip.detach().cpu().numpy(), dtype=np.float32)
        }


def _check_groups(keep_float: Sequence[str]) -> None:
    unknown = sorted(set(keep_float) - set(KEEP_FLOAT_GROUPS))
    if unknown:
        raise ValueError(f'keep-float groups {unknown}: choose from '
                         f'{KEEP_FLOAT_GROUPS}')


def quantize_int8(fp32_path: str,
                  out_path: str,
                  calibration: Optional[Iterable[Tensor]] = None,
                  keep_float: Sequence[str] = DEFAULT_KEEP_FLOAT,
                  per_channel: bool = True) -> Dict[str, Any]:
    """Quantize the float32 ONNX file ``fp32_path`` to int8 at ``out_path``
    with ``onnxruntime.quantization``.

    Args:
        fp32_path: an exported network (``(N, 3, T, H, W)`` pixels ->
            ``(N, classes)`` logits).
        out_path: the int8 file to write.
        calibration: clips ``(N, 3, T, H, W)`` to calibrate activation ranges
            on (static QDQ); None: dynamic quantization (no data needed).
        keep_float: groups of :data:`KEEP_FLOAT_GROUPS` left in float.
        per_channel: int8 weights with one scale per output channel.

    Returns:
        dict: ``mode`` ('static' or 'dynamic'), ``calibration_clips``,
        ``keep_float``, ``float_nodes`` (the names excluded), ``op_types``.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process
    _check_groups(keep_float)
    with tempfile.TemporaryDirectory() as tmp:
        # onnxruntime's recommended first step: shape inference and graph
        # optimisation (folding, fusions) so that the quantizer sees the
        # graph the runtime will run.
        prepared = osp.join(tmp, 'prepared.onnx')
        quant_pre_process(fp32_path, prepared)
        return _quantize_prepared(prepared, out_path, calibration, keep_float,
                                  per_channel)


def _quantize_prepared(fp32_path: str, out_path: str,
                       calibration: Optional[Iterable[Tensor]],
                       keep_float: Sequence[str],
                       per_channel: bool) -> Dict[str, Any]:
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quantize_dynamic,
                                          quantize_static)
    graph = onnx.load(fp32_path).graph
    excluded: List[str] = []
    if 'attention' in keep_float:
        excluded += attention_matmuls(graph)
    if 'head' in keep_float:
        excluded += head_nodes(graph)
    op_types = list(WEIGHT_OPS) if 'elementwise' in keep_float else None
    info: Dict[str, Any] = dict(
        keep_float=list(keep_float),
        float_nodes=len(excluded),
        per_channel=per_channel,
        op_types=op_types or 'onnxruntime default')
    if calibration is None:
        # Dynamic: weights int8 offline, activations quantized per call.
        # Only MatMul / Gemm have dynamic integer kernels on every CPU.
        quantize_dynamic(
            fp32_path,
            out_path,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=['MatMul', 'Gemm'],
            nodes_to_exclude=excluded)
        info.update(mode='dynamic', calibration_clips=0)
        return info
    reader = _ClipReader(graph.input[0].name, calibration)
    kwargs = {} if op_types is None else dict(op_types_to_quantize=op_types)
    quantize_static(
        fp32_path,
        out_path,
        reader,
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=excluded,
        **kwargs)
    if reader.count == 0:
        os.remove(out_path)
        raise ValueError('static int8 quantization needs at least one '
                         'calibration clip; none was given')
    info.update(mode='static', calibration_clips=reader.count)
    return info


def convert_fp16(fp32_path: str, out_path: str) -> Dict[str, Any]:
    """Write ``fp32_path`` with float16 weights and arithmetic to
    ``out_path`` (onnxruntime's converter; inputs and outputs stay float32,
    so callers feed the same pixels)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16
    model = convert_float_to_float16(onnx.load(fp32_path), keep_io_types=True)
    onnx.save(model, out_path)
    return dict(mode='fp16', keep_io_types=True)


def activation_peaks(fp32_path: str,
                     clips: Iterable[Tensor],
                     top: int = 5) -> Dict[str, Any]:
    """The largest magnitude every float tensor of the float32 graph takes
    on ``clips``, against the float16 range (65504).

    Returns:
        dict: ``max_abs`` (over all tensors), ``largest`` (the ``top``
        tensors by magnitude), ``fp16_max``, ``overflow`` (any tensor at or
        above the float16 range, or not finite).
    """
    import onnx
    model = onnx.load(fp32_path)
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    floats = {
        v.name
        for v in list(graph.value_info) + list(graph.output)
        if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    }
    known = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type == 'Constant':
            continue
        for out in node.output:
            if out in floats and out not in known:
                graph.output.append(
                    onnx.helper.make_tensor_value_info(out,
                                                       onnx.TensorProto.FLOAT,
                                                       None))
                known.add(out)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'all_outputs.onnx')
        onnx.save(model, path)
        session = _session(path)
        names = [o.name for o in session.get_outputs()]
        peaks = dict.fromkeys(names, 0.0)
        finite = True
        for clip in clips:
            outs = session.run(None, {
                session.get_inputs()[0].name:
                clip.numpy().astype(np.float32)
            })
            for name, value in zip(names, outs):
                if value.size == 0:
                    continue
                if not np.isfinite(value).all():
                    finite = False
                peaks[name] = max(peaks[name], float(np.nanmax(np.abs(value))))
    largest = sorted(peaks.items(), key=lambda kv: -kv[1])[:top]
    max_abs = largest[0][1] if largest else 0.0
    return dict(
        max_abs=max_abs,
        largest=[dict(tensor=k, max_abs=v) for k, v in largest],
        fp16_max=FP16_MAX,
        overflow=bool(max_abs >= FP16_MAX or not finite))


def _run(session, clips: Tensor) -> Tensor:
    name = session.get_inputs()[0].name
    return torch.from_numpy(
        session.run(None, {name: clips.numpy().astype(np.float32)})[0])


@torch.no_grad()
def verify_quantized(path: str,
                     reference: nn.Module,
                     clips: Iterable[Any],
                     min_agreement: float = 0.99,
                     baseline: Optional[str] = None,
                     threads: Optional[int] = None,
                     progress: Optional[Callable[[int], None]] = None
                     ) -> Dict[str, Any]:
    """Compare the converted file ``path`` with ``reference`` (PyTorch,
    float32) on ``clips``.

    Args:
        path: an int8 / fp16 ONNX file.
        reference: the deployed PyTorch network (``(N, 3, T, H, W)`` ->
            ``(N, classes)``).
        clips: :class:`~zeroi2v_mm.deployment.clips.Clip` items (``inputs``
            ``(V, 3, T, H, W)``, ``label``; -1 for unknown) or bare tensors.
        min_agreement: the smallest accepted fraction of clips whose top-1
            class (of the scores averaged over views) equals PyTorch's.
        baseline: the float32 ONNX file; when given, it is timed on the same
            clips, alternating with ``path``, for the latency ratio.
        threads: onnxruntime intra-op threads.

    Returns:
        dict: ``clips``, ``views``, ``top1_agreement``, ``max_abs_diff``
        (logits), ``max_prob_diff`` (softmax), ``accuracy`` (of the file and
        of PyTorch, over the clips with labels), median ``seconds`` per clip
        and ``latency_ratio`` (with ``baseline``), ``min_agreement``,
        ``passed``.

    Raises:
        ExportVerificationError: agreement below ``min_agreement`` (the
            report is the exception's ``report`` attribute), or no clips.
    """
    reference = reference.eval()
    session = _session(path, threads)
    base = _session(baseline, threads) if baseline else None
    agree = count = views = 0
    correct = dict(model=0, pytorch=0)
    labelled = 0
    max_abs = max_prob = 0.0
    times: Dict[str, List[float]] = dict(model=[], baseline=[])
    for index, clip in enumerate(clips):
        inputs = clip.inputs if hasattr(clip, 'inputs') else clip
        label = getattr(clip, 'label', -1)
        want = reference(inputs)
        start = time.perf_counter()
        got = _run(session, inputs)
        times['model'].append(time.perf_counter() - start)
        if base is not None:
            start = time.perf_counter()
            _run(base, inputs)
            times['baseline'].append(time.perf_counter() - start)
        if tuple(got.shape) != tuple(want.shape):
            raise ExportVerificationError(
                f'{path}: scores of shape {tuple(got.shape)}, PyTorch '
                f'{tuple(want.shape)}')
        max_abs = max(max_abs, float((got - want).abs().max()))
        max_prob = max(max_prob,
                       float((got.softmax(-1) - want.softmax(-1)).abs().max()))
        top_got = int(got.mean(0).argmax())
        top_want = int(want.mean(0).argmax())
        agree += top_got == top_want
        count += 1
        views += inputs.shape[0]
        if label >= 0:
            labelled += 1
            correct['model'] += top_got == label
            correct['pytorch'] += top_want == label
        if progress is not None:
            progress(index + 1)
    if count == 0:
        raise ExportVerificationError(f'{path}: no clips to verify on')
    report: Dict[str, Any] = dict(
        file=osp.abspath(path),
        clips=count,
        views=views,
        top1_agreement=agree / count,
        max_abs_diff=max_abs,
        max_prob_diff=max_prob,
        min_agreement=min_agreement,
        seconds=dict(model=statistics.median(times['model'])))
    if labelled:
        report['accuracy'] = dict(
            clips=labelled,
            model=correct['model'] / labelled,
            pytorch=correct['pytorch'] / labelled)
    if base is not None:
        report['seconds']['fp32_onnx'] = statistics.median(times['baseline'])
        report['latency_ratio'] = statistics.median(
            m / b for m, b in zip(times['model'], times['baseline']))
    report['passed'] = report['top1_agreement'] >= min_agreement
    if not report['passed']:
        error = ExportVerificationError(
            f'{path}: top-1 agreement with PyTorch '
            f"{100 * report['top1_agreement']:.1f} % on {count} clips is "
            f'below the threshold {100 * min_agreement:g} % (max abs logit '
            f'difference {max_abs:.3g}); do not deploy it')
        error.report = report
        raise error
    return report
