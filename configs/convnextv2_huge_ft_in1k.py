# ConvNeXt V2-Huge ImageNet-1K fine-tuning from its FCMAE encoder (FCMAE 1600 epochs), batch 1024 (32 GPUs x 32).
# Recipe: paper Table 11 (H column: blr 1.25e-3 as printed, layer decay 0.75, 50 epochs): blr 0.00125 (lr 0.005), wd
# 0.05, `group` layer decay (12 block groups: `decay_type='stage_wise'`) rate 0.75, 50 epochs with 10 warm-up, drop
# path 0.3, label smoothing 0.1, mixup 0.8 / cutmix 1; the rest is shared: ./_base_/recipes/convnextv2_ft_in1k.py. The
# scheme of H is not printed; it has the 3-3-27-3 depths of B/L, whose official runs use 'group'. Expected: 86.3 top-1
# (paper Table 14 / README).
_base_ = './_base_/recipes/convnextv2_ft_in1k_224.py'
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_huge_1k_224_fcmae.pt'

model = dict(
    backbone=dict(arch='huge', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(in_channels=2816, loss=dict(label_smooth_val=0.1)))
optim_wrapper = dict(
    paramwise_cfg=dict(layer_decay_rate=0.75, decay_type='stage_wise'),
    optimizer=dict(lr=0.00125 * 1024 / 256, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=10, end=50, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=1)
