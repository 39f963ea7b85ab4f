# UperNet with Conv2Former-T on ADE20K, 512x512 crops, 160k iterations, batch 16 (8 GPUs x 2): the paper's setting
# (UperNet, 160k, 512 crops). The paper publishes no config; the recipe is that of the ConvNeXt-T UperNet it
# compares against (mmseg `convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py`): AdamW lr 1e-4,
# wd 0.05, 1500 warm-up iterations, poly decay, AMP, drop path 0.4, and mmseg's
# `LearningRateDecayOptimizerConstructor` with decay 0.9, `stage_wise`, `num_layers=6` (`per_stage` + `num_layers`
# here): all downsampling layers (the BatchNorm stem included) id 0 -> 0.9 ** 7 = 0.478, stage s id s + 1 ->
# 0.9 ** (6 - s) (stage 0 0.531 ... stage 3 0.729), heads and output norms 1.0.
# Multi-scale test (`tools/test.py --tta`): mmseg's ADE20K `tta_pipeline` (ratios 0.5 ... 1.75, flip), the test
# behind the ConvNeXt-T multi-scale number the paper compares with.
# Expected (paper, secondary source): 48.0 mIoU (multi-scale, +1.3 over ConvNeXt-T).
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    './_base_/seg_runtime.py',
]
crop_size = (512, 512)
checkpoint = 'checkpoints/conv2former_t.pth.tar'  # official IN-1K Conv2Former-T (see the Mask R-CNN config)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmconvmae.Conv2Former',
        arch='tiny',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        norm_eval=True,  # the stem's BatchNorm keeps its ImageNet statistics (2 images per GPU)
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[72, 144, 288, 576], channels=512, num_classes=150),
    auxiliary_head=dict(in_channels=288, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='per_stage', num_layers=6),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=160000, eta_min=0.0, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=16)
