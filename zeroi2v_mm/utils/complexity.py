"""Parameter and FLOP counts with a library counter (MMEngine's fvcore port).

FLOPs follow the convention of the papers (fvcore): one fused multiply-add
counts as one FLOP, element-wise operations (adds, activations, softmax) are
not counted, layer norms are. fvcore and MMEngine do not know
``aten::scaled_dot_product_attention`` and would silently count attention as
zero (about 4% of a ViT-B/16), so :data:`EXTRA_FLOP_HANDLES` adds it.

The counts reproduce the papers' (ZeroI2V Table 3 for CLIP ViT-B/16 8x1x3
views; tests/utils/test_complexity.py checks them). The same counts written as
formulas over a config, without building or tracing (instant for ViT-L
tables), are :mod:`zeroi2v_mm.models.costs`; its tests hold them equal to
this counter.
"""
import warnings
from math import prod
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.model import is_model_wrapper
from torch import Tensor


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of ``scaled_dot_product_attention(q, k, v)``: ``q @ k^T`` plus
    ``softmax(.) @ v``; the softmax and the scaling are element-wise and not
    counted (fvcore convention).

    Shapes: q ``(..., L, E)``, k ``(..., S, E)``, v ``(..., S, Ev)``, leading
    dims (batch, heads) broadcast; e.g. ``B*H*L*S*E + B*H*L*S*Ev`` MACs, which
    is ``2 * B*H*L^2*D_head`` for self-attention.
    """
    q_shape, k_shape, v_shape = (get_shape(value) for value in inputs[:3])
    rows = prod(q_shape[:-1])  # (..., L): every query row
    keys, dims = k_shape[-2], q_shape[-1]
    value_dims = v_shape[-1]
    return rows * keys * dims + rows * keys * value_dims


# Operators MMEngine/fvcore leave uncounted that carry real matmul work. The
# fused variants appear when a trace records the kernel choice.
EXTRA_FLOP_HANDLES = {
    'aten::scaled_dot_product_attention': sdpa_flop_jit,
    'aten::_scaled_dot_product_attention_math': sdpa_flop_jit,
    'aten::_scaled_dot_product_flash_attention': sdpa_flop_jit,
    'aten::_scaled_dot_product_efficient_attention': sdpa_flop_jit,
    'aten::_scaled_dot_product_flash_attention_for_cpu': sdpa_flop_jit,
}


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP / FSDP / MMEngine wrappers."""
    while is_model_wrapper(model) or isinstance(
            model, nn.parallel.DistributedDataParallel):
        model = model.module
    return model


def count_parameters(model: nn.Module) -> int:
    """All parameters of ``model`` (trainable or not), counted by
    :func:`mmengine.analysis.parameter_count` (shared tensors once)."""
    return int(parameter_count(unwrap(model)).get('', 0))


def count_flops(model: nn.Module, inputs: Union[Tensor, Tuple[Tensor,
                                                              ...]]) -> int:
    """Multiply-accumulates of ``model(*inputs)``, traced by MMEngine's
    :class:`~mmengine.analysis.FlopAnalyzer` with attention counted.

    The model runs in eval mode (dropout and drop-path off) under
    ``torch.no_grad``; its training flag is restored afterwards.
    """
    model = unwrap(model)
    if isinstance(inputs, Tensor):
        inputs = (inputs, )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # Shape checks in forward() become trace-time constants: fine for
            # counting one fixed input shape.
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            analyzer = FlopAnalyzer(model, inputs)
            for name, handle in EXTRA_FLOP_HANDLES.items():
                analyzer.set_op_handle(name, handle)
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            return int(analyzer.total())
    finally:
        model.train(was_training)


def is_recognizer(model: nn.Module) -> bool:
    """An MMAction2 recognizer (backbone + head), as opposed to a backbone."""
    return hasattr(model, 'extract_feat') and getattr(model, 'cls_head',
                                                      None) is not None


def recognizer_logits(recognizer: nn.Module, inputs: Tensor) -> Tensor:
    """Raw class scores of every view: what ``predict`` computes before
    averaging the views (no softmax).

    Shapes: inputs ``(N, V, 3, T, H, W)`` -> ``(N * V, num_classes)``.
    """
    # In test mode extract_feat stops before the head (predict applies it).
    feats, head_kwargs = recognizer.extract_feat(inputs, test_mode=True)
    return recognizer.cls_head(feats, **head_kwargs)


class _LogitsOfOneView(nn.Module):
    """A recognizer seen as ``(N, 3, T, H, W) -> (N, num_classes)`` logits, the
    forward pass of one view without post-processing, for tracing."""

    def __init__(self, recognizer: nn.Module):
        super().__init__()
        self.recognizer = recognizer

    def forward(self, clips: Tensor) -> Tensor:
        return recognizer_logits(self.recognizer, clips[:, None])


def view_shape(model: nn.Module) -> Tuple[int, int, int, int]:
    """``(3, T, H, W)`` of one input view of a ZeroI2V backbone or of a
    recognizer built on one (T = ``num_frames``, H = W = ``image_size``)."""
    model = unwrap(model)
    backbone = getattr(model, 'backbone', model)
    try:
        size = backbone.arch['image_size']
        return (3, int(backbone.num_frames), int(size), int(size))
    except (AttributeError, KeyError, TypeError):
        raise ValueError(
            f'cannot tell the input shape of {type(backbone).__name__}: '
            'pass input_shape=(3, T, H, W) explicitly') from None


def count_view_flops(model: nn.Module,
                     input_shape: Optional[Sequence[int]] = None) -> int:
    """MACs of one view (a batch of one clip) through ``model``.

    A recognizer (anything with ``extract_feat`` and ``cls_head``) is counted
    from pixels to class logits, a bare backbone to its features.

    Args:
        model: a recognizer or a backbone.
        input_shape: ``(3, T, H, W)``; default from the backbone's config.
    """
    model = unwrap(model)
    shape = tuple(input_shape or view_shape(model))
    parameter = next(model.parameters())
    clip = torch.zeros(
        (1, ) + shape, device=parameter.device, dtype=parameter.dtype)
    if is_recognizer(model):
        return count_flops(_LogitsOfOneView(model), clip)
    return count_flops(model, clip)


def complexity(model: nn.Module,
               input_shape: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    """Parameters and GFLOPs per view of a recognizer (and its backbone).

    Returns:
        dict: ``params`` (whole model), ``backbone_params`` (when there is a
        ``backbone``), ``flops`` (MACs of one view), ``gflops`` (``flops /
        1e9``), ``input_shape`` (of the view).
    """
    model = unwrap(model)
    shape = tuple(input_shape or view_shape(model))
    flops = count_view_flops(model, shape)
    report = dict(params=count_parameters(model))
    if hasattr(model, 'backbone'):
        report['backbone_params'] = count_parameters(model.backbone)
    report.update(flops=flops, gflops=flops / 1e9, input_shape=list(shape))
    return report
