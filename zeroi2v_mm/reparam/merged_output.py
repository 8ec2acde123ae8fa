"""The one merge output path: the merged config and the merged checkpoint +
report, as both ``MergeAdaptersHook`` and ``tools/merge_adapters.py`` write
them.

:func:`merged_config` turns a training config into the config the merged
checkpoint loads into (what ``configs/*_merged.py`` do by hand);
:func:`save_merged` writes ``<stem>_merged.pth`` (an MMEngine checkpoint:
``meta`` + ``state_dict``) and its JSON report, both or neither, atomically
(:func:`zeroi2v_mm.utils.io.atomic_write_all`).
"""
import copy
import io
import os.path as osp
import time
from typing import Any, Dict, Optional

import mmengine
import torch
import torch.nn as nn
from mmengine.runner.checkpoint import weights_to_cpu

from ..models.peft import plain_settings
from ..utils.io import atomic_write_all, json_writer
from ..utils.small_checkpoint import META_KEY

# The report fields copied into the checkpoint's ``meta['merge_report']``.
META_REPORT_KEYS = ('max_abs_diff', 'top1_agreement', 'num_samples',
                    'tolerance')


def _hook_name(hook_type: Any) -> str:
    """``'MergeAdaptersHook'`` for the registered name (also scoped, as in
    ``'mmaction.MergeAdaptersHook'``) or the class itself."""
    if isinstance(hook_type, str):
        return hook_type.rpartition('.')[2]
    return getattr(hook_type, '__name__', '')


def merged_config(cfg: mmengine.Config) -> mmengine.Config:
    """``cfg`` for merged inference: ``model.backbone.adapters=None`` (and
    ``peft=None`` for the mergeable LoRA / TemporalHeads baselines) and no
    MergeAdaptersHook (what ``configs/*_merged.py`` do). ``cfg`` itself is
    not changed."""
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.update(plain_settings(cfg.model.backbone))
    cfg.custom_hooks = [
        hook for hook in cfg.get('custom_hooks', None) or []
        if _hook_name(hook.get('type')) != 'MergeAdaptersHook'
    ]
    return cfg


def merged_config_hint(cfg: mmengine.Config) -> str:
    """How to get the config a merged checkpoint of ``cfg`` tests with: the
    ``<name>_merged.py`` beside ``cfg``'s file where there is one, else the
    ``--cfg-options`` that make it (what :func:`merged_config` changes)."""
    filename = getattr(cfg, 'filename', None)
    if filename:
        stem, ext = osp.splitext(filename)
        candidate = f'{stem}_merged{ext}'
        if osp.isfile(candidate):
            relative = osp.relpath(candidate)
            return relative if not relative.startswith('..') else candidate
    options = [
        f'model.backbone.{key}=None'
        for key in plain_settings(cfg.model.backbone)
    ]
    config = filename or 'CONFIG'
    return f'{config} --cfg-options {" ".join(options)}'


def report_path_of(ckpt_path: str) -> str:
    """The report next to a merged checkpoint: ``X.pth`` -> ``X.json``."""
    return osp.splitext(ckpt_path)[0] + '.json'


def save_merged(merged: nn.Module,
                report: Dict[str, Any],
                ckpt_path: str,
                report_path: Optional[str] = None,
                cfg: Optional[mmengine.Config] = None,
                meta: Optional[Dict[str, Any]] = None,
                overwrite: bool = False) -> Dict[str, Any]:
    """Write the merged checkpoint and its JSON report, both or neither.

    Everything is serialised in memory first, so an unserialisable report or
    state fails before any file exists; then both files are written to
    temporary files and renamed into place together: a failure (a full disk
    raises ``OSError(ENOSPC)`` naming the path) leaves the previous files, or
    none, exactly as they were.

    Args:
        merged: the folded model (:func:`~.verification.merge_and_verify`).
        report: its report; ``report['source']`` (where the weights came
            from) goes into the checkpoint's meta too.
        ckpt_path: the ``.pth`` to write.
        report_path: the ``.json`` to write; defaults to ``ckpt_path`` with
            ``.json``.
        cfg: the training config; its :func:`merged_config` is stored as
            ``meta['cfg']`` (text).
        meta: more meta (the source checkpoint's, or the run's epoch, iter
            and dataset_meta); the merge fields are set on top of it.
        overwrite: replace existing files. Defaults to False: an existing
            checkpoint or report raises ``FileExistsError`` naming it and
            nothing is written.

    Returns:
        dict: the checkpoint's ``meta``.
    """
    report_path = report_path or report_path_of(ckpt_path)
    if osp.realpath(ckpt_path) == osp.realpath(report_path):
        raise ValueError(f'the merged checkpoint {ckpt_path} and its report '
                         f'{report_path} are the same file')
    if not overwrite:
        for path in (ckpt_path, report_path):
            if osp.lexists(path):
                raise FileExistsError(
                    f'{path} exists; not overwriting it (nothing written)')
    write_report = json_writer(report)  # TypeError here: nothing written
    meta = dict(meta or {})
    meta.update(
        merged_adapters=True,
        source=report.get('source'),
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
        mmengine_version=mmengine.__version__,
        merge_report={key: report.get(key)
                      for key in META_REPORT_KEYS})
    meta.pop('cfg', None)  # the source's training config is not this one
    # Every tensor is in this file and the merge changed the "frozen" ones: a
    # small checkpoint's record of them would no longer be true.
    meta.pop(META_KEY, None)
    if cfg is not None:
        try:
            meta['cfg'] = merged_config(cfg).pretty_text
        except Exception:  # formatting only; the weights are what matters
            pass
    # In memory first: torch's file writer reports a full disk as a bare
    # RuntimeError, a plain write as OSError(ENOSPC) with the path.
    buffer = io.BytesIO()
    torch.save(
        dict(meta=meta, state_dict=weights_to_cpu(merged.state_dict())),
        buffer)

    def write_checkpoint(tmp_path: str) -> None:
        with open(tmp_path, 'wb') as file:
            file.write(buffer.getbuffer())

    atomic_write_all([(ckpt_path, write_checkpoint),
                      (report_path, write_report)])
    return meta
