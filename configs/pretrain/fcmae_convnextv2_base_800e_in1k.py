# FCMAE pretraining of ConvNeXt V2-B on ImageNet-1K, 800 epochs, batch 4096 = 64 GPUs x 64
# (one 8-GPU node: add `optim_wrapper.accumulative_counts=8`, like the official `--update_freq 8`).
# Recipe: paper Table 8, main_pretrain.py, TRAINING.md (docs/convnext_v2.md#recipes):
#   mask 60% of the 32x32 cells (docs/convnext_v2.md#masking), one-block decoder of dim 512, norm-pix MSE on
#   masked patches (docs/convnext_v2.md#decoder-and-loss);
#   AdamW lr = blr 1.5e-4 x 4096 / 256 = 2.4e-3, betas (0.9, 0.95), wd 0.05 except on 1-D norm params and biases
#   (timm 0.3.2 `add_weight_decay`: GRN gamma/beta and the mask token are decayed, as in the official run);
#   40 warm-up epochs then half-cycle cosine to 0, per iteration; RandomResizedCrop(224, scale 0.2-1, bicubic) +
#   flip; no AMP (the official pretraining runs fp32; `--amp` works); no drop path in the encoder.
# The released models use 1600 epochs (paper Table 4): set max_epochs=1600 and the cosine end/T_max to 1600/1560.
# Other sizes, same recipe (the decoder input follows the encoder automatically):
#   --cfg-options model.backbone.arch=atto | femto | pico | nano | tiny | base | large | huge
# Result to expect: 84.6 top-1 after IN-1K fine-tuning at 800 epochs, 84.9 at 1600 (paper Tables 3, 14);
# fine-tune with ../convnextv2_base_ft_in1k.py (checkpoint prefix 'backbone.').
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs512_mae.py',
    '../_base_/cls_runtime.py',
]

model = dict(
    type='mmconvmae.FCMAE',
    mask_ratio=0.6,
    # the encoder: ConvNeXtV2 parameters on the visible cells only (sparse-equivalent), per-sample GRN statistics
    backbone=dict(type='mmconvmae.FCMAEConvNeXtV2', arch='base', drop_path_rate=0.0, grn_stats='sample'),
    neck=dict(type='mmconvmae.FCMAEDecoder', embed_dim=512, depth=1, patch_size=32),
    head=dict(
        type='mmpretrain.MAEPretrainHead',
        norm_pix=True,
        patch_size=32,
        loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2')))

train_dataloader = dict(batch_size=64, num_workers=10)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=760, eta_min=0.0, by_epoch=True, begin=40, end=800,
         convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=3))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(enable=False, base_batch_size=4096)
