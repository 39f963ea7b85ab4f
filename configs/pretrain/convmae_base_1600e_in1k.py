# ConvMAE-B masked-autoencoder pretraining on ImageNet-1K, 1600 epochs, batch 3072 = 24 GPUs (3 nodes x 8) x 128.
# Recipe: PRETRAIN.md / main_pretrain.py / models_convmae.py (docs/convmae.md#configs):
#   75% of the 16x16 blocks masked per image (mask on the 1/16 grid, upsampled x2 / x4 for stages 2 / 1), masked
#   convolution in stages 1-2, stage 3 on the visible tokens, multi-scale fusion of stages 1-2 into the encoder
#   output before the final norm, decoder dim 512 / depth 8 / 16 heads, normalized-pixel MSE on masked patches;
#   AdamW lr = blr 1.5e-4 x 3072 / 256 = 1.8e-3, betas (0.9, 0.95), wd 0.05 except on 1-D norm params and biases
#   (timm 0.3.2 `add_weight_decay`), 40 warm-up epochs then half-cycle cosine to 0 per iteration,
#   RandomResizedCrop(224, scale 0.2-1, bicubic) + flip, AMP (the official runs resume in fp32 after a NaN).
# Other input sizes work (any multiple of 16): set the crop `scale` and `model.backbone.img_size`.
# Result to expect: 85.0 top-1 after IN-1K fine-tuning (../convmae_base_ft_in1k.py, checkpoint prefix 'backbone.'),
# 53.2 box AP (../mask_rcnn_convmae_base_coco.py), 51.7 mIoU (../upernet_convmae_base_ade20k.py).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs512_mae.py',
    '../_base_/cls_runtime.py',
]

model = dict(
    type='mmconvmae.ConvMAEPretrain',
    mask_ratio=0.75,
    backbone=dict(type='mmconvmae.ConvMAEPretrainEncoder', arch='base', img_size=224, drop_path_rate=0.0),
    neck=dict(type='mmconvmae.ConvMAEDecoder', embed_dim=512, depth=8, num_heads=16, mlp_ratio=4.),
    head=dict(
        type='mmconvmae.PixelPatchHead',
        norm_pix=True,
        patch_size=16,
        loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2')))

train_dataloader = dict(batch_size=128, num_workers=10)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 3072 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=1560, eta_min=0.0, by_epoch=True, begin=40, end=1600,
         convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1600)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=3))
randomness = dict(seed=0, diff_rank_seed=True)
find_unused_parameters = False
auto_scale_lr = dict(enable=False, base_batch_size=3072)
