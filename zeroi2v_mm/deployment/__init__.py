"""Deploy a trained recognizer: ONNX, TorchScript and ``torch.export``, each
verified against PyTorch (``tools/deployment/export_onnx.py``)."""
from .export import (DeployedRecognizer, ExportVerificationError, decode_video,
                     export_model, load_deployable_model, onnx_node_counts,
                     run_exported, verify_exported)

__all__ = [
    'DeployedRecognizer', 'ExportVerificationError', 'decode_video',
    'export_model', 'load_deployable_model', 'onnx_node_counts',
    'run_exported', 'verify_exported'
]
