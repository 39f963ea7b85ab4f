# CPU demo twin of ../pretrain/fcmae_convnextv2_base_800e_in1k.py: synthetic ImageNet-layout images, 128x128 crops
# (4 x 4 mask cells, 6 visible), ConvNeXt V2-atto (the arch of the Mask R-CNN / UperNet demos, so the checkpoint
# initialises their backbones with prefix 'backbone.'), batch 4, fp32, 100 iterations. Same model code and recipe
# structure (mask ratio 0.6, decoder dim 512, norm-pix loss, AdamW (0.9, 0.95), warm-up + cosine).
_base_ = ['../pretrain/fcmae_convnextv2_base_800e_in1k.py', '../_base_/demo/synthetic_imagenet.py']

model = dict(backbone=dict(arch='atto'))

# the shared synthetic pretraining loader, with 128-pixel crops
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
            dict(type='RandomResizedCrop', scale=128, crop_ratio_range=(0.2, 1.0), backend='pillow',
                 interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackInputs'),
        ]))

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-3))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=100)
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
