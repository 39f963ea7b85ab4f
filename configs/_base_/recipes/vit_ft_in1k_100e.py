# The MAE-style IN-1K fine-tuning schedule of ConvMAE-B and iTPN-B: mmpretrain's Swin/DeiT 224 pipeline at 32 images
# per GPU (x 32 GPUs = 1024), fp16 AdamW (betas 0.9/0.999, eps 1e-8, wd 0.05) through the layer-decay constructor,
# 5 linear warm-up epochs then cosine to 1e-6 over 100 epochs, the best checkpoint kept. An entry config adds its
# model, lr and layer-decay `paramwise_cfg`.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../cls_train_runtime.py',
]

train_dataloader = dict(batch_size=32)
optim_wrapper = dict(
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor')
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=100, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
