"""Loading weights into the backbones: CLIP / open_clip / timm / MMPretrain
files and their layouts (``weight_formats.py``), and the checks and loaders
the backbones call (``weights.py``). The converter of the official ZeroI2V
checkpoints is ``zeroi2v_mm/models/official_checkpoint.py``: it builds on
the backbones, which build on this package."""
from .weight_formats import CONVERTERS, check_layout, detect_format
from .weights import ADAPTER_MARKERS, check_pretrained_file

__all__ = [
    'ADAPTER_MARKERS', 'CONVERTERS', 'check_layout', 'check_pretrained_file',
    'detect_format'
]
