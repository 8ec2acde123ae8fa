# MMAction2's runtime defaults, plus the import that registers zeroi2v_mm
# (and applies its fixes for the pinned OpenMMLab stack).
_base_ = ['mmaction::_base_/default_runtime.py']

custom_imports = dict(imports=['zeroi2v_mm'], allow_failed_imports=False)

# Log which parameters train, per module, when training starts
# (zeroi2v_mm.engine.TrainableParamsHook); merged into MMAction2's
# default_hooks, so configs that set other default_hooks keep it.
default_hooks = dict(
    trainable_params=dict(type='TrainableParamsHook'),
    # NaN / inf weights or scores stop testing and validation with the
    # checkpoint's name instead of giving a meaningless accuracy
    # (zeroi2v_mm/engine/hooks/finite_check_hook.py).
    finite_check=dict(type='FiniteCheckHook'),
    # One training per work dir, whatever launched it (mim train,
    # tools/train.py, dist_train.sh); a run resumed from another work dir
    # never deletes that run's best checkpoint
    # (zeroi2v_mm/engine/hooks/work_dir_lock_hook.py).
    work_dir_lock=dict(type='WorkDirLockHook'),
    # Checkpoints written atomically (a temporary file, then a rename; the
    # mode a plain write would get under the umask; through symlinks): a
    # run killed while saving leaves the previous checkpoint whole. The
    # backend is registered by zeroi2v_mm and used by this package's runs
    # only (zeroi2v_mm/utils/file_backend.py).
    checkpoint=dict(backend_args=dict(backend='zeroi2v_atomic')),
    # Small checkpoints: the trained parameters plus a record (fingerprint,
    # file) of the frozen image-model weights. Every loader (load_from,
    # --resume, mim test, init_recognizer, the inferencer, merge, export)
    # completes them from the config's pretrained or the recorded file when
    # it holds exactly those weights, and refuses otherwise
    # (docs/en/user_guides/merge.md). Full checkpoints:
    # --cfg-options default_hooks.small_checkpoint.save_small=False
    # (zeroi2v_mm/engine/hooks/small_checkpoint_hook.py).
    small_checkpoint=dict(type='SmallCheckpointHook', save_small=True))
# TensorBoard (pip install -e .[tensorboard]) or W&B: on the command line
#   --cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend
# (a list item cannot be a dict(...) there); in a config, list both backends
# (docs/en/user_guides/train_test.md, "Training logs").
# Training scalars and the MergeAdaptersHook report (merge/*) go to every
# backend configured.
