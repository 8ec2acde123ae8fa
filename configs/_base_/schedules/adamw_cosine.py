# ZeroI2V paper Table 12 with the released configs' details
# (MCG-NJU/ZeroI2V configs/recognition/vit_zero_clip/*.py): AdamW lr 3e-4 (for
# a total batch of 64), betas (0.9, 0.999), weight decay 0.05 on everything
# that trains except the temporal/positional/class embeddings and the norms
# (adapter and head biases do decay, as released), no gradient clipping;
# linear warm-up from 0.1 x lr over the first 2.5 epochs (per iteration)
# together with a per-epoch cosine over all epochs, as released.
# Mixed precision (fp16, dynamic loss scale) on a GPU, fp32 on a CPU:
# AmpOnGPUOptimWrapper (zeroi2v_mm/engine/optimizers/). The optimizer gets
# only the parameters that train, with one log line instead of a warning per
# frozen CLIP tensor: TrainableParamsOptimWrapperConstructor.
max_epochs = 40
warmup_epochs = 2.5

train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='AmpOnGPUOptimWrapper',
    constructor='TrainableParamsOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={
            'temporal_embedding': dict(decay_mult=0.0),
            'positional_embedding': dict(decay_mult=0.0),
            'class_embedding': dict(decay_mult=0.0),
        }))  # no clip_grad: the released configs do not clip gradients

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0,
        by_epoch=True,
        begin=0,
        end=max_epochs),
]

# lr 3e-4 is for 64 clips per step; MMEngine rescales it when
# --auto-scale-lr is given and the real total batch differs.
auto_scale_lr = dict(enable=False, base_batch_size=64)
