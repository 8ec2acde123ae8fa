"""Export a trained ZeroI2V recognizer for deployment, and check the export.

The deployed network is pixels to class scores for one view,
``(N, 3, T, H, W)`` float RGB values in 0..255 (what MMAction2's test pipeline
packs, before the data preprocessor) ``-> (N, num_classes)`` logits (no
softmax, no averaging over views: average the scores of a clip's views
yourself, as ``average_clips`` does). Normalisation (the data preprocessor's
mean/std and BGR->RGB flip), backbone and head are in the graph; the batch
size N is dynamic.

An unmerged checkpoint (linear adapters, LoRA or temporal-head updates) is
merged first and the merge verified (:func:`zeroi2v_mm.reparam.
merge_and_verify`): the exported graph is the plain image ViT + STDHA.

Formats: ONNX (the TorchScript-based exporter, ``dynamo=False``, which many
deployment tools call, or the dynamo exporter), TorchScript
(``torch.jit.trace``) and ``torch.export`` programs (``.pt2``).
:func:`verify_exported` runs the written file (onnxruntime for ONNX) and
compares it with PyTorch.
"""
import collections
import copy
import os.path as osp
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor

from ..apis import init_model
from ..models.peft import is_mergeable
from ..reparam import build_plain_model, merge_and_verify, merged_config
from ..utils.complexity import recognizer_logits, view_shape
from ..utils.io import atomic_write

FORMATS = ('onnx', 'torchscript', 'exported_program')
ONNX_EXPORTERS = ('torchscript', 'dynamo')


class ExportVerificationError(RuntimeError):
    """The exported file does not compute what the PyTorch model computes."""


class DeployedRecognizer(nn.Module):
    """A recognizer as one deployable function of raw pixels.

    Args:
        recognizer: an MMAction2 recognizer (``data_preprocessor`` with
            ``format_shape='NCTHW'``, backbone, head), merged or not.

    Shapes: ``(N, 3, T, H, W)`` float pixels 0..255 (channel order as the
    pipeline decodes them) ``-> (N, num_classes)`` logits.
    """

    def __init__(self, recognizer: nn.Module):
        super().__init__()
        preprocessor = recognizer.data_preprocessor
        format_shape = getattr(preprocessor, 'format_shape', None)
        if format_shape != 'NCTHW':
            raise ValueError(
                'DeployedRecognizer exports NCTHW video recognizers; the '
                'data '
                f'preprocessor has format_shape={format_shape!r}')
        self.recognizer = recognizer
        self.to_rgb = bool(getattr(preprocessor, 'to_rgb', False))
        if getattr(preprocessor, '_enable_normalize', False):
            self.register_buffer(
                'mean',
                preprocessor.mean.reshape(1, -1, 1, 1, 1).clone())
            self.register_buffer(
                'std',
                preprocessor.std.reshape(1, -1, 1, 1, 1).clone())
        else:
            self.mean = self.std = None

    def forward(self, clips: Tensor) -> Tensor:
        if self.to_rgb:
            clips = clips.flip(1)  # BGR <-> RGB, as the preprocessor does
        if self.mean is not None:
            clips = (clips - self.mean) / self.std
        return recognizer_logits(self.recognizer, clips[:, None])


# ------------------------------------------------------------------ loading
def load_deployable_model(config: Union[str, Config],
                          checkpoint: str,
                          cfg_options: Optional[dict] = None,
                          tolerance: float = 1e-4
                          ) -> Tuple[nn.Module, Config, Dict[str, Any]]:
    """Build ``config``'s recognizer, load ``checkpoint`` strictly, merge it
    when it holds unmerged updates (verified on random clips), eval mode.

    Loaded by :func:`zeroi2v_mm.apis.init_model`: every weight comes from
    the checkpoint, except a small checkpoint's frozen weights, which come
    from the image model it records (fingerprint-checked).

    Args:
        config: the config the checkpoint was trained with, or its merged
            variant (``adapters=None``); a merged checkpoint given with the
            unmerged config is loaded into the config's merged variant.
        checkpoint: an MMEngine checkpoint (``*.pth``) of that model.
        cfg_options: overrides, as ``--cfg-options`` gives them.
        tolerance: largest max-abs logit difference accepted for the merge.

    Returns:
        ``(model, cfg, info)``: the model to deploy (fp32, CPU, eval), the
        config it was built from, and ``info`` (``merged_here``,
        ``merge_report`` when it was merged here).

    Raises:
        ValueError: a checkpoint that does not fit the config, naming keys.
        zeroi2v_mm.reparam.MergeVerificationError: the merge is not exact.
    """
    model = init_model(
        config, checkpoint, device='cpu', cfg_options=cfg_options)
    cfg = model.cfg  # the merged config when the file is merged
    model.float()
    info: Dict[str, Any] = dict(merged_here=False)
    if is_mergeable(cfg.model.backbone):  # unmerged: merge it here
        generator = torch.Generator().manual_seed(0)
        shape = view_shape(model)
        clips = [
            torch.randn((2, 1) + shape, generator=generator) for _ in range(2)
        ]
        model, report = merge_and_verify(
            model,
            clips,
            tolerance=tolerance,
            plain=build_plain_model(cfg.model),
            count_complexity=False)
        cfg = merged_config(cfg)
        info.update(merged_here=True, merge_report=report)
    return model.eval(), cfg, info


def decode_video(cfg: Config, video: str) -> Tensor:
    """Decode ``video`` with the config's test pipeline, as ``mim test`` and
    MMAction2's inferencer do.

    Returns:
        ``(V, 3, T, H, W)`` float pixels: every view of the clip.
    """
    from mmengine.dataset import Compose
    if not osp.isfile(video):
        raise FileNotFoundError(f'video not found: {video}')
    loader = cfg.get('test_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or \
        cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError('the config has no test_dataloader.dataset.pipeline '
                         'or test_pipeline to decode videos with')
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    data = Compose(copy.deepcopy(pipeline))(
        dict(filename=video, label=-1, start_index=0, modality='RGB'))
    inputs = data['inputs']
    if inputs.dim() != 5:
        raise ValueError(f'{video}: the test pipeline gives inputs of shape '
                         f'{tuple(inputs.shape)}; expected (V, 3, T, H, W) '
                         "(FormatShape 'NCTHW')")
    return inputs.float()


def first_test_clip(cfg: Config) -> Optional[Tuple[Tensor, str]]:
    """The views of the first clip of the config's test set (decoded by its
    pipeline) and its file, or None when the data is not there."""
    from mmaction.registry import DATASETS
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        return None
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    try:
        dataset = DATASETS.build(copy.deepcopy(loader.dataset))
        sample = dataset[0]
        source = dataset.get_data_info(0).get('filename', 'test set item 0')
    except (FileNotFoundError, OSError, IndexError):
        return None
    return sample['inputs'].float(), source


# ---------------------------------------------------------------- exporting
def export_model(module: nn.Module,
                 path: str,
                 example: Tensor,
                 fmt: str = 'onnx',
                 exporter: str = 'torchscript',
                 opset: Optional[int] = None) -> str:
    """Write ``module`` (e.g. a :class:`DeployedRecognizer`) to ``path``,
    atomically, with a dynamic batch dimension.

    Args:
        module: the network; run in eval mode.
        path: the output file.
        example: an input ``(N, 3, T, H, W)``; use N >= 2 (the exporters
            treat a size-1 dimension as a constant).
        fmt: ``'onnx'``, ``'torchscript'`` (``torch.jit.trace``) or
            ``'exported_program'`` (``torch.export``, ``.pt2``).
        exporter: for ONNX, ``'torchscript'`` (``dynamo=False``) or
            ``'dynamo'``.
        opset: ONNX opset (None: the exporter's default).

    Returns:
        str: the absolute path written.
    """
    if fmt not in FORMATS:
        raise ValueError(f'format {fmt!r}: choose from {FORMATS}')
    if exporter not in ONNX_EXPORTERS:
        raise ValueError(f'exporter {exporter!r}: choose from '
                         f'{ONNX_EXPORTERS}')
    if example.shape[0] < 2:
        raise ValueError('export example batch must be >= 2 so that the '
                         'batch dimension stays dynamic')
    module = module.eval()
    batch = torch.export.Dim('batch')

    def write(tmp: str) -> None:
        with torch.no_grad():
            if fmt == 'onnx':
                kwargs: Dict[str, Any] = dict(
                    input_names=['clips'], output_names=['scores'])
                if opset is not None:
                    kwargs['opset_version'] = opset
                if exporter == 'dynamo':
                    kwargs.update(
                        dynamo=True,
                        dynamic_shapes=({
                            0: batch
                        }, ),
                        external_data=False)
                else:
                    kwargs.update(
                        dynamo=False,
                        dynamic_axes=dict(
                            clips={0: 'batch'}, scores={0: 'batch'}))
                torch.onnx.export(module, (example, ), tmp, **kwargs)
            elif fmt == 'torchscript':
                traced = torch.jit.trace(
                    module, (example, ), check_trace=False)
                traced.save(tmp)
            else:
                program = torch.export.export(
                    module, (example, ), dynamic_shapes=({
                        0: batch
                    }, ))
                torch.export.save(program, tmp)

    return atomic_write(path, write)


def format_of(path: str) -> str:
    """The format of an exported file, from its name: ``.onnx``, ``.pt2``
    (``torch.export``), anything else TorchScript."""
    ext = osp.splitext(path)[1].lower()
    return {
        '.onnx': 'onnx',
        '.pt2': 'exported_program'
    }.get(ext, 'torchscript')


def run_exported(path: str,
                 clips: Tensor,
                 fmt: Optional[str] = None) -> Tensor:
    """Run an exported file on ``clips`` (CPU): onnxruntime for ONNX."""
    fmt = fmt or format_of(path)
    if fmt == 'onnx':
        import onnxruntime
        options = onnxruntime.SessionOptions()
        session = onnxruntime.InferenceSession(
            path, options, providers=['CPUExecutionProvider'])
        name = session.get_inputs()[0].name
        out = session.run(
            None, {name: clips.detach().cpu().numpy().astype(np.float32)})[0]
        return torch.from_numpy(out)
    with torch.no_grad():
        if fmt == 'torchscript':
            return torch.jit.load(path, map_location='cpu')(clips)
        return torch.export.load(path).module()(clips)


@torch.no_grad()
def verify_exported(path: str,
                    reference: nn.Module,
                    inputs: Dict[str, Tensor],
                    tolerance: float = 1e-4,
                    fmt: Optional[str] = None) -> Dict[str, Any]:
    """Compare the exported file with ``reference`` (PyTorch, fp32, eval) on
    every input of ``inputs`` (``{description: (N, 3, T, H, W)}``).

    Returns:
        dict ``{description: max abs difference}`` plus ``max_abs_diff``,
        ``tolerance`` and ``passed``.

    Raises:
        ExportVerificationError: above ``tolerance`` on any input (or another
            output shape), naming the file, the input and the difference.
    """
    reference = reference.eval()
    report: Dict[str, Any] = dict(per_input={}, tolerance=tolerance)
    for name, clips in inputs.items():
        want = reference(clips)
        got = run_exported(path, clips, fmt)
        if tuple(got.shape) != tuple(want.shape):
            raise ExportVerificationError(
                f'{path}: on {name} the exported model gives scores of shape '
                f'{tuple(got.shape)}, PyTorch {tuple(want.shape)}')
        report['per_input'][name] = float((got - want).abs().max())
    report['max_abs_diff'] = max(report['per_input'].values())
    report['passed'] = report['max_abs_diff'] <= tolerance
    if not report['passed']:
        details = ', '.join(f'{name}: {diff:.3g}'
                            for name, diff in report['per_input'].items())
        raise ExportVerificationError(
            f'{path} does not reproduce the PyTorch model: max abs logit '
            f'difference {report["max_abs_diff"]:.3g} > tolerance '
            f'{tolerance:g} ({details}). The exported graph computes '
            'something else (an exporter that dropped an operation?); do not '
            'deploy it')
    return report


def onnx_node_counts(path: str) -> Dict[str, Any]:
    """Nodes of an ONNX graph: ``total``, ``compute`` (without Constant and
    Identity nodes, which hold values only) and ``by_type``."""
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    by_type = collections.Counter(node.op_type for node in graph.node)
    values_only = by_type.get('Constant', 0) + by_type.get('Identity', 0)
    return dict(
        total=len(graph.node),
        compute=len(graph.node) - values_only,
        by_type=dict(sorted(by_type.items())))


def random_clips(shape: Sequence[int], seed: int = 0) -> Tensor:
    """Uniform random pixels 0..255 of ``shape`` ``(N, 3, T, H, W)``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(tuple(shape), generator=generator) * 255
