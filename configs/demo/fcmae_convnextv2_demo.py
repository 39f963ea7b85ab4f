# CPU demo twin of ../pretrain/fcmae_convnextv2_base_800e_in1k.py: synthetic ImageNet-layout images, 128x128 crops
# (4 x 4 mask cells, 6 visible), ConvNeXt V2-atto (the arch of the Mask R-CNN / UperNet demos, so the checkpoint
# initialises their backbones with prefix 'backbone.'), batch 4, fp32, 100 iterations. Same model code and recipe
# structure (mask ratio 0.6, decoder dim 512, norm-pix loss, AdamW (0.9, 0.95), warm-up + cosine).
_base_ = ['../pretrain/fcmae_convnextv2_base_800e_in1k.py', '../_base_/demo/synthetic_imagenet.py']

model = dict(backbone=dict(arch='atto'))

train_dataloader = {{_base_.synthetic_imagenet.pretrain_dataloader_128}}

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-3))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=100)
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
