"""Check, on real inputs, that a folded model computes what the unfolded one
does, and describe the merge (parameters, FLOPs, logit differences).

:func:`merge_and_verify` is what the ``MergeAdaptersHook`` and
``tools/merge_adapters.py`` run: merge a copy (:mod:`.folding`), compare it
with the original on batches of data, count parameters and FLOPs, and refuse
(raise :class:`MergeVerificationError`) when the logits differ by more than a
tolerance.
"""
import copy
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..models.layers.linear_adapter import count_adapted_linears
from ..utils.complexity import (complexity, count_parameters, is_recognizer,
                                recognizer_logits, unwrap)
from . import folding
from .folding import MergeVerificationError, check_same_structure


def model_logits(model: nn.Module, inputs: Tensor) -> Tensor:
    """Raw class scores of every view, before any averaging or softmax.

    Args:
        model: a recognizer (has ``extract_feat`` and ``cls_head``): inputs
            ``(N, V, 3, T, H, W)`` as its data preprocessor makes them; or any
            other module (e.g. a bare backbone): inputs as it takes them.

    Returns:
        Tensor: ``(N, V, K)`` for a recognizer (V views, K classes),
        ``(N, 1, D)`` with the flattened output of any other module.
    """
    if is_recognizer(model):
        scores = recognizer_logits(model, inputs)
        return scores.reshape(inputs.shape[0], -1, scores.shape[-1])
    out = model(inputs)
    return out.reshape(out.shape[0], 1, -1)


def _as_inputs(model: nn.Module, batch: Any) -> Tensor:
    """A batch from a dataloader (dict of ``inputs``/``data_samples``, run
    through the model's data preprocessor, as ``test_step`` does) or a ready
    input tensor -> a float32 input tensor."""
    if isinstance(batch, Tensor):
        inputs = batch
    elif isinstance(batch, dict) and 'inputs' in batch:
        preprocessor = getattr(model, 'data_preprocessor', None)
        if preprocessor is None:
            raise TypeError(f'{type(model).__name__} has no data_preprocessor '
                            'to turn dataloader batches into inputs')
        inputs = preprocessor(batch, False)['inputs']
    else:
        raise TypeError(f'cannot use a batch of type {type(batch).__name__}: '
                        "expected a Tensor or a dict with 'inputs'")
    if isinstance(inputs, (list, tuple)):  # unstacked inputs: not expected
        inputs = torch.stack(list(inputs))
    return inputs.float()


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device('cpu')


@torch.no_grad()
def verify_merge(unmerged: nn.Module,
                 merged: nn.Module,
                 batches: Iterable[Any],
                 tolerance: float = 1e-4,
                 max_batches: Optional[int] = None) -> Dict[str, Any]:
    """Run both models on the same inputs (fp32, eval) and compare logits.

    Args:
        unmerged: the model with adapters (its data preprocessor is used).
        merged: the folded model.
        batches: dataloader batches or input tensors (see :func:`_as_inputs`).
        tolerance: the largest max-abs logit difference that passes.
        max_batches: stop after this many batches (None: all).

    Returns:
        dict: ``max_abs_diff`` and ``mean_abs_diff`` over all logits of all
        views, ``top1_agreement`` (share of clips whose top-1 class, from the
        view-averaged logits, is the same), ``num_top1_agree``,
        ``num_samples``, ``num_views``, ``num_logits``, ``num_batches``,
        ``tolerance`` and ``passed``.
    """
    for name, model in (('unmerged', unmerged), ('merged', merged)):
        wrong = {p.dtype for p in model.parameters()} - {torch.float32}
        if wrong:
            dtypes = sorted(map(str, wrong))
            raise ValueError(f'verify_merge compares fp32 models; the {name} '
                             f'model has parameters of {dtypes}: pass copies '
                             'made with .float()')
    states = (unmerged.training, merged.training)
    unmerged.eval()
    merged.eval()
    device = _device(unmerged)
    max_diff, abs_sum, num_logits = 0.0, 0.0, 0
    samples, agree, views, used = 0, 0, 0, 0
    try:
        # Mixed precision from an outer AMP context would make the comparison
        # measure fp16 rounding instead of the merge.
        with torch.autocast(device.type, enabled=False):
            for index, batch in enumerate(batches):
                if max_batches is not None and index >= max_batches:
                    break
                inputs = _as_inputs(unmerged, batch).to(device)
                reference = model_logits(unmerged, inputs).float()
                folded = model_logits(merged, inputs).float()
                if reference.shape != folded.shape:
                    raise MergeVerificationError(
                        f'merged model returns {tuple(folded.shape)} logits, '
                        f'the unmerged one {tuple(reference.shape)}')
                diff = (reference - folded).abs()
                batch_max = float(diff.max())
                # max() would drop a NaN; a NaN logit must fail the check.
                if batch_max != batch_max or batch_max > max_diff:
                    max_diff = batch_max
                abs_sum += float(diff.double().sum())
                num_logits += diff.numel()
                agree += int(
                    (reference.mean(1).argmax(-1) == folded.mean(1).argmax(-1)
                     ).sum())
                samples += reference.shape[0]
                views = reference.shape[1]
                used += 1
    finally:
        unmerged.train(states[0])
        merged.train(states[1])
    if used == 0:
        raise ValueError('verify_merge got no batches: the data loader is '
                         'empty')
    return finish_verification(
        dict(
            max_abs_diff=max_diff,
            abs_diff_sum=abs_sum,
            num_logits=num_logits,
            num_top1_agree=agree,
            num_samples=samples,
            num_views=views,
            num_batches=used), tolerance)


def finish_verification(stats: Dict[str, Any],
                        tolerance: float) -> Dict[str, Any]:
    """Derived fields of a verification (after sums from several processes
    have been added up): means, agreement, and whether it passed."""
    stats = dict(stats)
    stats['mean_abs_diff'] = stats['abs_diff_sum'] / max(
        stats['num_logits'], 1)
    stats['top1_agreement'] = stats['num_top1_agree'] / max(
        stats['num_samples'], 1)
    stats['tolerance'] = float(tolerance)
    # NaN/inf logits must fail: `nan <= tol` is False.
    stats['passed'] = bool(stats['max_abs_diff'] <= tolerance)
    return stats


def merge_and_verify(
    model: nn.Module,
    batches: Optional[Iterable[Any]] = None,
    tolerance: float = 1e-4,
    max_batches: Optional[int] = None,
    plain: Optional[nn.Module] = None,
    input_shape: Optional[Sequence[int]] = None,
    count_complexity: bool = True,
    reduce_stats: Optional[Callable[[dict], dict]] = None
) -> Tuple[nn.Module, Dict[str, Any]]:
    """Merge a copy of ``model``, verify it, and describe the result.

    ``model`` itself is not changed (not even its train/eval mode or device).
    Both the reference and the merged copy are fp32.

    Args:
        model: a recognizer or backbone with adapters (DDP-wrapped is fine).
        batches: dataloader batches or input tensors for the comparison;
            None skips it (the report says so).
        tolerance: largest max-abs logit difference accepted.
        max_batches: use at most this many batches.
        plain: the same config built with ``adapters=None``
            (:func:`build_plain_model`): the merged model must have exactly
            its keys and shapes; its parameters are reported.
        input_shape: ``(3, T, H, W)`` of one view for the FLOP count (default
            from the backbone).
        count_complexity: count parameters and FLOPs before and after.
        reduce_stats: applied to the raw verification sums before the
            pass/fail decision; the hook adds them up over processes here.

    Returns:
        tuple: the merged fp32 model (eval mode, on the model's device) and
        the report dict.

    Raises:
        MergeVerificationError: adapters left over, structure differs from
            ``plain``, or logits differ by more than ``tolerance``.
    """
    source = unwrap(model)
    reference = copy.deepcopy(source).float().eval()
    for parameter in reference.parameters():
        parameter.grad = None  # the copy needs no gradients of the original
    # Looked up on the module, so a test can swap in a broken folding.
    merged = folding.merge_adapters(copy.deepcopy(reference)).eval()
    report: Dict[str, Any] = dict(
        adapted_linears_before=count_adapted_linears(reference),
        adapted_linears_after=count_adapted_linears(merged))
    if report['adapted_linears_after']:
        raise MergeVerificationError(
            f"{report['adapted_linears_after']} linears still carry adapters "
            'after merging')
    if plain is not None:
        check_same_structure(merged, plain)

    if batches is not None:
        stats = verify_merge(reference, merged, batches, tolerance,
                             max_batches)
        if reduce_stats is not None:
            stats = finish_verification(reduce_stats(stats), tolerance)
    else:
        stats = dict(
            max_abs_diff=None,
            top1_agreement=None,
            num_samples=0,
            tolerance=float(tolerance),
            passed=None)
    report.update(stats)
    if stats['passed'] is False:
        raise MergeVerificationError(
            f"merged model differs from the unmerged one: max abs logit "
            f"difference {stats['max_abs_diff']:.3g} > tolerance "
            f"{tolerance:.3g} (top-1 agreement "
            f"{stats['top1_agreement']:.4f} on {stats['num_samples']} "
            'clips, fp32); nothing was written')

    if count_complexity:
        before = complexity(reference, input_shape)
        after = complexity(merged, input_shape)
        params = dict(before=before['params'], after=after['params'])
        if 'backbone_params' in before:
            params.update(
                backbone_before=before['backbone_params'],
                backbone_after=after['backbone_params'])
        if plain is not None:
            plain_backbone = getattr(plain, 'backbone', plain)
            params['plain'] = count_parameters(plain)
            params['plain_backbone'] = count_parameters(plain_backbone)
            temporal = getattr(plain_backbone, 'temporal_embedding', None)
            if temporal is not None:
                # The image ViT the video model was made from: the plain
                # backbone has only the T x D temporal embedding on top.
                params['temporal_embedding'] = temporal.numel()
                params['image_vit'] = (
                    params['plain_backbone'] - temporal.numel())
        report['params'] = params
        report['gflops_per_view'] = dict(
            before=before['gflops'],
            after=after['gflops'],
            input_shape=before['input_shape'])
    return merged, report


def format_report(report: Dict[str, Any]) -> str:
    """A readable table of a :func:`merge_and_verify` report."""
    rows = []

    def number(value, digits=4):
        if value is None:
            return 'n/a'
        if isinstance(value, float):
            return f'{value:.{digits}g}'
        return f'{value:,}' if isinstance(value, int) else str(value)

    params = report.get('params', {})
    flops = report.get('gflops_per_view', {})
    rows.append(('parameters (model)', number(params.get('before')),
                 number(params.get('after'))))
    if 'backbone_before' in params:
        rows.append(
            ('parameters (backbone)', number(params.get('backbone_before')),
             number(params.get('backbone_after'))))
    if 'plain_backbone' in params:
        rows.append(('plain backbone (adapters=None)', '',
                     number(params['plain_backbone'])))
    if 'image_vit' in params:
        rows.append(('image ViT (+ T x D temporal emb.)', '',
                     f"{number(params['image_vit'])} + "
                     f"{number(params['temporal_embedding'])}"))
    if flops:
        rows.append((f"GFLOPs per view {tuple(flops['input_shape'])}",
                     number(flops['before'], 6), number(flops['after'], 6)))
    rows.append(
        ('linears with adapters', number(report.get('adapted_linears_before')),
         number(report.get('adapted_linears_after'))))
    width = max(len(row[0]) for row in rows)
    lines = [f"{'':{width}}  {'before':>16}  {'after merge':>16}"]
    lines += [f'{a:{width}}  {b:>16}  {c:>16}' for a, b, c in rows]
    if report.get('num_samples'):
        lines.append(
            f"verification on {report['num_samples']} clips x "
            f"{report.get('num_views', 1)} views (fp32): max abs logit diff "
            f"{report['max_abs_diff']:.3g} (tolerance "
            f"{report['tolerance']:.3g}), top-1 agreement "
            f"{report['top1_agreement']:.4f}")
    else:
        lines.append('verification skipped (no batches)')
    return '\n'.join(lines)
