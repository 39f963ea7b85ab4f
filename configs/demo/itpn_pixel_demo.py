# CPU demo twin of ../pretrain/itpn_pixel_base_1600e_in1k.py: synthetic ImageNet-layout 64x64 crops (16 units,
# 4 visible), the tiny demo HiViT + pyramid + a 2-block 64-d decoder, batch 4, fp32, 100 iterations. Same model
# code and recipe structure (75% unit mask, multi-level fusion, norm-pix loss, AdamW (0.9, 0.95), warm-up + cosine).
_base_ = ['../pretrain/itpn_pixel_base_1600e_in1k.py', '../_base_/demo/synthetic_imagenet.py',
          '../_base_/demo/itpn_demo_model.py']

model = dict(
    backbone=dict(arch={{_base_.itpn_demo.arch}}, img_size={{_base_.itpn_demo.img_size}}),
    neck=dict(in_channels=64, fpn_dim={{_base_.itpn_demo.fpn_dim}}),
    head=dict(fpn_dim={{_base_.itpn_demo.fpn_dim}}, img_size={{_base_.itpn_demo.img_size}}, decoder_embed_dim=64,
              decoder_depth=2, decoder_num_heads=2))

train_dataloader = {{_base_.synthetic_imagenet.pretrain_dataloader}}
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=100)
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
