# ConvNeXt V2-Atto ImageNet-1K fine-tuning from its FCMAE encoder (FCMAE 1600 epochs), batch 1024 (32 GPUs x 32).
# Recipe: the official TRAINING.md command for ConvNeXt V2-Atto (= paper Table 9): blr 0.0002 (lr 0.0008), wd 0.3,
# `single` layer decay (one id per block: `decay_type='layer_wise'`) rate 0.9, 600 epochs with 0 warm-up, drop path
# 0.1, label smoothing 0.2, mixup 0 / cutmix 0; the rest is shared: ./_base_/recipes/convnextv2_ft_in1k.py. Expected:
# 76.7 top-1 (paper Table 14 / README).
_base_ = './_base_/recipes/convnextv2_ft_in1k_224.py'
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_atto_1k_224_fcmae.pt'

model = dict(
    backbone=dict(arch='atto', drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(in_channels=320, loss=dict(label_smooth_val=0.2)),
    train_cfg=dict(_delete_=True))  # no mixup / cutmix
optim_wrapper = dict(
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='layer_wise'),
    optimizer=dict(lr=0.0002 * 1024 / 256, weight_decay=0.3))
param_scheduler = [  # no warm-up
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=0, end=600, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=600, val_interval=1)
