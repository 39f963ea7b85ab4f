# ConvNeXt V2-B ImageNet-1K fine-tuning from the FCMAE encoder, in mmpretrain (batch 1024 = 32 GPUs x 32).
# Recipe: paper Table 11 + TRAINING.md (docs/convnext_v2.md#recipes): AdamW lr 2.5e-3 (blr 6.25e-4 x 1024/256;
# the paper's 6.25e-3 is a typo), wd 0.05 (none on norms, biases, GRN gamma/beta), layer-wise lr decay 0.6 over
# the 12 "group" layers, 100 epochs with 20 warm-up, drop path 0.1, RandAugment(9, 0.5), random erasing 0.25,
# mixup 0.8 / cutmix 1.0, label smoothing 0.1, EMA 0.9999, AMP, head init std 2e-5 (x0.001 scale).
# Other sizes: atto..nano (Table 9) and tiny (Table 10) differ in lr, wd, layer decay, drop path and mixing;
# change `model.backbone.arch`, `model.head.in_channels` and those values.
# Expected: 84.9 top-1 (FCMAE 1600 epochs, Table 14).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    './_base_/cls_runtime.py',
]
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_base_1k_224_fcmae.pt'

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmconvmae.ConvNeXtV2',
        arch='base',
        drop_path_rate=0.1,
        out_type='avg_featmap',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(batch_size=32)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.6, decay_type='stage_wise'),
    optimizer=dict(type='AdamW', lr=2.5e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=20, end=100, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'))
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
auto_scale_lr = dict(enable=False, base_batch_size=1024)
