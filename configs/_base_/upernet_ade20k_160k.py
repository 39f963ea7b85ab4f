# What every UperNet entry config shares: mmseg's UperNet (UPerHead + FCN auxiliary head), ADE20K 512x512 crops
# with mmseg's multi-scale `tta_pipeline` (ratios 0.5 ... 1.75 with flip, `tools/test.py --tta`), slide inference
# at 512 / stride 341, batch 16 (8 GPUs x 2), fp16 AdamW (betas 0.9/0.999, wd 0.05) through the layer-decay
# constructor, 1500 linear warm-up iterations then poly (power 1) to 0 over 160k iterations, evaluation and a
# checkpoint every 16k. An entry config adds its backbone, head widths, lr and layer-decay `paramwise_cfg`.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    './seg_runtime.py',
]
crop_size = (512, 512)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=160000, eta_min=0.0, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=16)
