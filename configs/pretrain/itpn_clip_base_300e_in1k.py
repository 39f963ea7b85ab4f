# iTPN-B CLIP-target pretraining on ImageNet-1K, 300 epochs, batch 2048 = 64 GPUs x 32 (official itpn_clip/).
# Recipe (official itpn_clip/run_itpn_pretraining.py; docs/itpn.md#pretraining): BEiT block mask of 75 of the
# 196 units, masked units replaced by
# `backbone.mask_token` after the stem; HiViT iTPN-B with relative position bias and layer scale 0.1, drop path
# 0.1; pyramid fpn_depth 1; targets: all tokens of a frozen CLIP ViT-B/16 (512-d, non-affine LayerNorm); the fused
# pyramid and an auxiliary branch on main block 18 regress them (SmoothL1, all tokens);
# AdamW lr 1.5e-3, betas (0.9, 0.98), eps 1e-8, wd 0.05, 5 warm-up epochs then cosine to 1e-5, no gradient clipping.
# Official data and optimizer (itpn_clip/datasets.py DataAugmentationForiTPN, transforms.py
# RandomResizedCropAndInterpolationWithTwoPic, run_itpn_pretraining.py defaults and README command):
#   ColorJitter(0.4, 0.4, 0.4), flip, one random-resized crop with scale (0.08, 1) (the transform's default; the
#   script passes none) resized bicubically for the student and with Lanczos for the teacher
#   (`--second_interpolation lanczos`); student normalised with Inception mean / std 0.5 / 0.5 / 0.5
#   (`--imagenet_default_mean_and_std` off); `--clip_grad` defaults to None and the README command sets none.
#   The teacher gets ToTensor() output in [0, 1], which its ScalingLayerForClip (itpn_clip/clip/create_clip.py)
#   maps with ((x + 1) * 127.5) / 255 as if it were in [-1, 1]: the teacher sees 0.5 + x / 2 before CLIP's
#   mean / std. Reproduced (second_mean = 510 m - 255, second_std = 510 s on 0-255 pixels; docs/itpn.md); CLIP's
#   own normalisation is second_mean = 255 m, second_std = 255 s.
#   Weight decay: none on 1-D params, biases and `absolute_pos_embed` (the model's no_weight_decay(); its
#   no_weight_decay_keywords are not used by optim_factory.create_optimizer, so the mask token and the
#   relative-position tables are decayed).
# 800 epochs (the 86.2% result): max_epochs=800 and betas (0.9, 0.999).
# Expected after fine-tuning: 85.9 top-1 (300e), Mask R-CNN 1x 53.2 / 46.6, UperNet 54.7 mIoU (800e).
# Teacher weights: OpenAI CLIP ViT-B/16 in the mmpretrain layout (`visual.*` keys).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs256_itpn.py',
    '../_base_/cls_runtime.py',
]
clip_mean, clip_std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
clip_checkpoint = ('https://download.openmmlab.com/mmselfsup/1.x/target_generator_ckpt/'
                   'clip_vit_base_16.pth.tar')

data_preprocessor = dict(
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    second_mean=[510 * m - 255 for m in clip_mean],
    second_std=[510 * s for s in clip_std])

model = dict(
    type='mmconvmae.iTPN',
    target='clip',
    backbone=dict(type='mmconvmae.HiViT', arch='base', img_size=224, drop_path_rate=0.1, rel_pos_bias='per_block',
                  layer_scale_init_value=0.1, mask_token=True),
    neck=dict(type='mmconvmae.iTPNPyramid', in_channels=512, fpn_dim=256, fpn_depth=1, out_type='units'),
    head=dict(type='mmconvmae.iTPNCLIPHead', embed_dims=512, fpn_dim=256, teacher_dim=512, num_heads=8,
              layer_scale_init_value=0.1, rpe_size=14),
    target_generator=dict(type='mmconvmae.CLIPTeacher', width=768, layers=12, heads=12, patch_size=16,
                          output_dim=512, input_resolution=224, checkpoint=clip_checkpoint))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=224, second_size=224, interpolation='bicubic',
         second_interpolation='lanczos', scale=(0.08, 1.0)),
    dict(type='BEiTMaskGenerator', input_size=(14, 14), num_masking_patches=75, max_num_patches=75,
         min_num_patches=16),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=32, num_workers=10, dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0,
                       custom_keys={'backbone.absolute_pos_embed': dict(decay_mult=0.0)}))

max_epochs = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, eta_min=1e-5, by_epoch=True, begin=5, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(enable=False, base_batch_size=2048)
