# The detection runtime with the 3x schedule of the ConvNeXt / Swin Mask R-CNN recipes: 36 epochs (evaluation every
# 6), fp16 AdamW (betas 0.9/0.999, wd 0.05) through the layer-decay constructor, 1000 linear warm-up iterations from
# 0.001, lr x0.1 after epochs 27 and 33, a checkpoint every epoch (last 3 kept). An entry config adds its lr and
# layer-decay `paramwise_cfg`, and overrides `train_cfg` / `param_scheduler` for other schedules.
_base_ = '../det_runtime.py'

max_epochs = 36
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=6)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
