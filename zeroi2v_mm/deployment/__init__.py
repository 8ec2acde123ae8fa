"""Deploy a trained recognizer: ONNX, TorchScript and ``torch.export``, each
verified against PyTorch (``tools/deployment/export_onnx.py``); int8 and fp16
ONNX (``quantize``); model-ready clips read by a config's test pipeline
(``clips``)."""
from .clips import Clip, iter_clips
from .export import (DeployedRecognizer, ExportVerificationError, decode_video,
                     export_model, load_deployable_model, onnx_node_counts,
                     run_exported, verify_exported)
from .quantize import convert_fp16, quantize_int8, verify_quantized

__all__ = [
    'Clip', 'DeployedRecognizer', 'ExportVerificationError', 'decode_video',
    'export_model', 'iter_clips', 'load_deployable_model', 'onnx_node_counts',
    'quantize_int8', 'convert_fp16', 'run_exported', 'verify_exported',
    'verify_quantized'
]
