# CPU demo twin of ../pretrain/convmae_base_1600e_in1k.py: synthetic ImageNet-layout images, 128x128 crops (8x8
# tokens, 16 visible), the tiny ConvMAE of the Mask R-CNN / UperNet demos (so the checkpoint initialises their
# backbones with prefix 'backbone.'), a 2-block decoder of dim 128, batch 4, fp32, 100 iterations. Same model code
# and recipe structure (mask ratio 0.75, norm-pix loss on masked patches, AdamW (0.9, 0.95), warm-up + cosine).
_base_ = ['../pretrain/convmae_base_1600e_in1k.py', '../_base_/demo/synthetic_imagenet.py']

model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=[32, 64, 128], depths=[1, 1, 4], num_heads=4), img_size=128),
    neck=dict(embed_dim=128, depth=2, num_heads=4))

train_dataloader = {{_base_.synthetic_imagenet.pretrain_dataloader_128}}

optim_wrapper = dict(type='OptimWrapper', _delete_=True,
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=100)
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
