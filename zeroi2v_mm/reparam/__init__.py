"""Structural reparameterisation: fold the linear adapters (and the mergeable
baselines) into the frozen linears (:mod:`.folding`), check that the folded
model computes the same logits (:mod:`.verification`), and write the merged
config, checkpoint and report (:mod:`.merged_output`)."""
from ..models.layers.linear_adapter import count_adapted_linears
from .folding import (MergeVerificationError, build_plain_model,
                      check_same_structure, merge_adapters)
from .merged_output import (merged_config, merged_config_hint, report_path_of,
                            save_merged)
from .verification import (finish_verification, format_report,
                           merge_and_verify, model_logits, verify_merge)

__all__ = [
    'MergeVerificationError', 'build_plain_model', 'check_same_structure',
    'count_adapted_linears', 'merge_adapters', 'finish_verification',
    'format_report', 'merge_and_verify', 'model_logits', 'verify_merge',
    'merged_config', 'merged_config_hint', 'report_path_of', 'save_merged'
]
