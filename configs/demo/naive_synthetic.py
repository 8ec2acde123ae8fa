# Naive frame averaging on the synthetic temporal benchmark: the pre-trained
# image model, frozen, runs on every frame; the classifier sees the average
# of the frame features (a linear probe). No STDHA, no adapters, and the
# temporal embedding stays at zero, so the prediction cannot depend on frame
# order: on the time-reversed class pairs it can only guess (~50%).
_base_ = ['zeroi2v_synthetic.py']

model = dict(backbone=dict(stdha=None, adapters=None))
# Keep the (otherwise trainable) temporal embedding at zero.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(
            temporal_embedding=dict(lr_mult=0.0, decay_mult=0.0))))
# No adapters, nothing to merge: drop the base config's MergeAdaptersHook.
custom_hooks = []
