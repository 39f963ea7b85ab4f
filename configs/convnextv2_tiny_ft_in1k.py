# ConvNeXt V2-Tiny ImageNet-1K fine-tuning from its FCMAE encoder (FCMAE 1600 epochs), batch 1024 (32 GPUs x 32).
# Recipe: the official TRAINING.md command for ConvNeXt V2-Tiny (= paper Table 10): blr 0.0008 (lr 0.0032), wd 0.05,
# `single` layer decay (one id per block: `decay_type='layer_wise'`) rate 0.9, 300 epochs with 40 warm-up, drop path
# 0.2, label smoothing 0.1, mixup 0.8 / cutmix 1; the rest is shared: ./_base_/recipes/convnextv2_ft_in1k.py.
# Expected: 83.0 top-1 (paper Table 14 / README).
_base_ = './_base_/recipes/convnextv2_ft_in1k_224.py'
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_tiny_1k_224_fcmae.pt'

model = dict(
    backbone=dict(arch='tiny', drop_path_rate=0.2, init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(in_channels=768, loss=dict(label_smooth_val=0.1)))
optim_wrapper = dict(
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='layer_wise'),
    optimizer=dict(lr=0.0008 * 1024 / 256, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=40, end=300, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
