# ConvNeXt V2-Base ImageNet-1K fine-tuning from its FCMAE encoder (FCMAE 1600 epochs), batch 1024 (32 GPUs x 32).
# Recipe: the official TRAINING.md command for ConvNeXt V2-Base (= paper Table 11, whose blr 6.25e-3 is a typo): blr
# 0.000625 (lr 0.0025), wd 0.05, `group` layer decay (12 block groups: `decay_type='stage_wise'`) rate 0.6, 100 epochs
# with 20 warm-up, drop path 0.1, label smoothing 0.1, mixup 0.8 / cutmix 1; the rest is shared:
# ./_base_/recipes/convnextv2_ft_in1k.py. Expected: 84.9 top-1 (paper Table 14 / README).
_base_ = './_base_/recipes/convnextv2_ft_in1k_224.py'
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_base_1k_224_fcmae.pt'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(in_channels=1024, loss=dict(label_smooth_val=0.1)))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=20, end=100, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
