# CPU demo twin of ../pretrain/itpn_clip_base_300e_in1k.py: synthetic 64x64 crops (4x4 units, BEiT block mask of
# 6 units), the tiny demo HiViT (with rel_pos_bias, layer scale and mask token) + pyramid, and a randomly initialised
# 1-layer CLIP-style teacher (no download), batch 4, fp32, 100 iterations. Same model code and recipe structure.
_base_ = ['../pretrain/itpn_clip_base_300e_in1k.py', '../_base_/demo/synthetic_imagenet.py',
          '../_base_/demo/itpn_demo_model.py']

model = dict(
    backbone=dict(arch={{_base_.itpn_demo.arch}}, img_size={{_base_.itpn_demo.img_size}}, drop_path_rate=0.0),
    neck=dict(in_channels=64, fpn_dim={{_base_.itpn_demo.fpn_dim}}),
    head=dict(embed_dims=64, fpn_dim={{_base_.itpn_demo.fpn_dim}}, teacher_dim=32, num_heads=2, rpe_size=4),
    target_generator=dict(width=32, layers=1, heads=2, output_dim=32, input_resolution=64, checkpoint=None))

train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet',
        data_root='{{$MMCONVMAE_DATA:data/synthetic}}/imagenet',
        split='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=64, second_size=64,
                 interpolation='bicubic', second_interpolation='bicubic', scale=(0.2, 1.0)),
            dict(type='BEiTMaskGenerator', input_size=(4, 4), num_masking_patches=6, max_num_patches=6,
                 min_num_patches=2),
            dict(type='PackInputs'),
        ]))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.05),
                     clip_grad=dict(max_norm=3.0),
                     paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=100)
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
