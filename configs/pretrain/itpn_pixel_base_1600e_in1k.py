# iTPN-B pixel-target pretraining on ImageNet-1K, 1600 epochs, batch 4096 = 64 GPUs x 64 (official
# itpn_pixel/README.md: 8 nodes x 8 GPUs; one 8-GPU node: add `optim_wrapper.accumulative_counts=8`).
# Recipe (official itpn_pixel/PRETRAIN.md; docs/itpn.md#pretraining): MAE random mask of 75% of the 16x16 units
# (dropped before the stem);
# backbone HiViT iTPN-B (3/3/24, no relative position bias, trainable sin-cos absolute position embedding) + the pyramid
# (fpn_dim 256, fpn_depth 2) + fusion decoder (512-d, 8 blocks, 16 heads); normalised-pixel MSE on masked units;
# AdamW lr = blr 1.5e-4 x 4096 / 256 = 2.4e-3, betas (0.9, 0.95), wd 0.05 (none on 1-D params / biases),
# 40 warm-up epochs then cosine; RandomResizedCrop(224, 0.2-1) + flip. 400 epochs: max_epochs=400, cosine end 400.
# Expected after fine-tuning: 85.5 top-1 (IN-1K, 1600e), Mask R-CNN 1x 53.0 / 46.5, UperNet 53.5 mIoU.
# The checkpoint's `backbone.` and `neck.` parts initialise ../mask_rcnn_itpn_base_coco_1x.py and
# ../upernet_itpn_base_ade20k.py with nothing missing; official/mmpretrain files: tools/convert/itpn.py.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs512_mae.py',
    '../_base_/cls_runtime.py',
]

model = dict(
    type='mmconvmae.iTPN',
    target='pixel',
    mask_ratio=0.75,
    backbone=dict(type='mmconvmae.HiViT', arch='base', img_size=224, drop_path_rate=0.0, rel_pos_bias=None),
    neck=dict(type='mmconvmae.iTPNPyramid', in_channels=512, fpn_dim=256, fpn_depth=2, out_type='units'),
    head=dict(type='mmconvmae.iTPNPixelHead', fpn_dim=256, img_size=224, decoder_embed_dim=512, decoder_depth=8,
              decoder_num_heads=16, norm_pix=True))

train_dataloader = dict(batch_size=64, num_workers=10)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0))

max_epochs = 1600
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 40, eta_min=0.0, by_epoch=True, begin=40, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=3))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(enable=False, base_batch_size=4096)
