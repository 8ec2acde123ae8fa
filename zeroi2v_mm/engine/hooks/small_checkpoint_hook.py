"""SmallCheckpointHook: save what trains, restore the frozen rest on load."""
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmaction.registry import HOOKS

from ...utils.small_checkpoint import (cached_file_fingerprint, fingerprint,
                                       frozen_entry, frozen_names, make_small,
                                       small_checkpoint_backbones,
                                       sync_frozen_records)


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class SmallCheckpointHook(Hook):
    """Checkpoints of parameter-efficient runs without the frozen image model.

    Saving (``before_save_checkpoint``, every checkpoint the runner writes:
    ``epoch_*.pth``, ``best_*.pth``, ``last``): the frozen parameters of each
    backbone that supports it (:class:`~zeroi2v_mm.utils.small_checkpoint.
    SmallCheckpointBackbone`: ``ZeroI2VViT``, ``ZeroI2VSwin``,
    ``UniFormerV2InTI``) are left out and a record of them (names,
    fingerprint, image-model file) is kept
    (:mod:`zeroi2v_mm.utils.small_checkpoint`). Sizes are measured by
    ``tools/analysis/checkpoint_size.py``.

    Checked once per run, when training starts: the model's frozen tensors
    must be exactly what its ``pretrained`` file gives, or a checkpoint could
    not be completed from that file later (e.g. a ``load_from`` of a full
    checkpoint trained on another image model, a backbone without a
    ``pretrained`` file, an unfrozen backbone). Where that fails, full
    checkpoints are written and the reason is logged.

    Loading needs nothing from this hook: each backbone completes a small
    checkpoint itself, in every loader (``load_from``, ``--resume``,
    ``mim test``, ``init_recognizer``, the inferencer, the package's tools).
    ``after_load_checkpoint`` only hands the backbones the records of a
    checkpoint whose state dict lost them (kept in its ``meta``).

    Args:
        save_small (bool): Write small checkpoints (True). False writes full
            ones; loading small ones keeps working either way.
    """

    # Before other hooks that look at the saved checkpoint (none of ours do).
    priority = 'ABOVE_NORMAL'

    def __init__(self, save_small: bool = True):
        self.save_small = bool(save_small)
        # prefix -> meta entry; None until checked, {} = save full.
        self._entries: Optional[Dict[str, dict]] = None

    # ---------------------------------------------------------------- load
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        sync_frozen_records(checkpoint)

    # ---------------------------------------------------------------- save
    def before_train(self, runner) -> None:
        if self.save_small and is_main_process():
            self._entries = self._check(runner)

    def _check(self, runner) -> Dict[str, dict]:
        """The meta entries of the small checkpoints this run can write,
        ``{}`` (full checkpoints) with the reason logged when it cannot."""
        entries = {}
        for prefix, backbone in small_checkpoint_backbones(
                _unwrap(runner.model)):
            keys = frozen_names(backbone)
            where = prefix.rstrip('.') or 'the model'
            if not keys:
                continue  # nothing frozen (full fine-tuning): nothing to drop
            reason = None
            if not backbone.pretrained:
                reason = 'it has no pretrained file to restore them from'
            else:
                own = backbone.state_dict()
                digest = fingerprint({k: own[k] for k in keys})
                try:
                    from_file = cached_file_fingerprint(
                        backbone.pretrained, keys, backbone)
                except (OSError, ValueError) as error:
                    reason = f'{backbone.pretrained} cannot be read ({error})'
                else:
                    if from_file != digest:
                        reason = (f'they differ from {backbone.pretrained} '
                                  '(loaded from another checkpoint?)')
            if reason is not None:
                runner.logger.warning(
                    f'SmallCheckpointHook: saving full checkpoints: the '
                    f'{len(keys)} frozen tensors of {where} cannot be left '
                    f'out: {reason}')
                return {}
            entries[prefix] = frozen_entry(backbone, keys, digest)
        if entries:
            runner.logger.info(
                'SmallCheckpointHook: checkpoints leave out the frozen '
                'weights of ' +
                ', '.join(f'{p.rstrip(".")} ({len(e["keys"])} tensors, from '
                          f'{e["pretrained"]})' for p, e in entries.items()))
        return entries

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.save_small:
            return
        if self._entries is None:
            # Saved outside training (a test run saves nothing; a custom
            # call): check now.
            self._entries = self._check(runner)
        if self._entries:
            make_small(checkpoint, self._entries)
