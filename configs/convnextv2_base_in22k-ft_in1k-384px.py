# ConvNeXt V2-B IN-22K -> IN-1K fine-tuning at 384x384 (stage 2 of the paper's 22K recipe, Table 13), from the
# output of ./convnextv2_base_fcmae-ft_in22k.py (its 21841-class head dropped): batch 512 (32 GPUs x 16), blr 2.5e-5
# (lr 5e-5), weight decay 1e-8, `group` layer decay 0.8, drop path 0.2, 30 epochs, no mixup / cutmix, EMA 0.9999.
# The rest as in the IN-1K fine-tuning (../_base_/recipes/convnextv2_ft_in1k.py), with mmpretrain's 384 pipelines.
# Expected: 87.7 top-1 at 384 (paper Table 15 / README: the released convnextv2_base_22k_384_ema.pt).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_384.py',
    './_base_/recipes/convnextv2_ft_in1k.py',
]
checkpoint = 'work_dirs/convnextv2_base_fcmae-ft_in22k/epoch_90.pth'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    train_cfg=dict(_delete_=True))  # no mixup / cutmix
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(
    paramwise_cfg=dict(layer_decay_rate=0.8, decay_type='stage_wise'),
    optimizer=dict(lr=2.5e-5 * 512 / 256, weight_decay=1e-8))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=0, end=30, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
