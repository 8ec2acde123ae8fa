# ZeroI2V paper Table 12: AdamW lr 3e-4 (for a total batch of 64), weight
# decay 0.05 except on embeddings and norms, linear warm-up then cosine.
max_epochs = 40
warmup_epochs = 5

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
    val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'temporal_embedding': dict(decay_mult=0.0),
            'positional_embedding': dict(decay_mult=0.0),
            'class_embedding': dict(decay_mult=0.0),
        }),
    clip_grad=dict(max_norm=20, norm_type=2))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]

# lr 3e-4 is for 64 clips per step; MMEngine rescales it when
# --auto-scale-lr is given and the real total batch differs.
auto_scale_lr = dict(enable=False, base_batch_size=64)
