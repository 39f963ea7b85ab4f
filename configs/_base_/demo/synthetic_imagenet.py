# Pieces for the CPU demo twins of the mmpretrain entry configs (fine-tuning and pretraining), on the synthetic
# ImageNet-layout set written by `tools/data/make_synthetic.py` under $MMCONVMAE_DATA (default data/synthetic):
# 4 classes, meta/{train,val}.txt. A demo config takes e.g.
#     train_dataloader = {{_base_.synthetic_imagenet.train_dataloader}}
# and, for pretraining, {{_base_.synthetic_imagenet.pretrain_dataloader}} (64-pixel crops + flip, no labels) or
# pretrain_dataloader_128 (128-pixel crops).
def _pretrain_loader(crop):
    """Self-supervised loader: random resized crops of ``crop`` pixels + flip, no labels."""
    return dict(
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
                dict(type='RandomResizedCrop', scale=crop, crop_ratio_range=(0.2, 1.0), backend='pillow',
                     interpolation='bicubic'),
                dict(type='RandomFlip', prob=0.5),
                dict(type='PackInputs'),
            ]))


synthetic_imagenet = dict(
    train_dataloader=dict(
        _delete_=True,
        batch_size=4,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='ImageNet',
            data_root='{{$MMCONVMAE_DATA:data/synthetic}}/imagenet',
            split='train',
            metainfo=dict(classes=('circle', 'rectangle', 'triangle', 'ring')),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.5, 1.0), backend='pillow',
                     interpolation='bicubic'),
                dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                dict(type='PackInputs'),
            ])),
    val_dataloader=dict(
        _delete_=True,
        batch_size=4,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='ImageNet',
            data_root='{{$MMCONVMAE_DATA:data/synthetic}}/imagenet',
            split='val',
            metainfo=dict(classes=('circle', 'rectangle', 'triangle', 'ring')),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='ResizeEdge', scale=73, edge='short', backend='pillow', interpolation='bicubic'),
                dict(type='CenterCrop', crop_size=64),
                dict(type='PackInputs'),
            ])),
    evaluator=dict(_delete_=True, type='Accuracy', topk=(1, 2)),
    pretrain_dataloader=_pretrain_loader(64),
    pretrain_dataloader_128=_pretrain_loader(128),
)

demo_cls_schedule = dict(
    train_cfg=dict(_delete_=True, by_epoch=False, max_iters=100, val_interval=100),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
        dict(type='CosineAnnealingLR', by_epoch=False, begin=10, end=100, eta_min=0.0),
    ],
    default_hooks=dict(
        logger=dict(type='mmconvmae.EarlyLoggerHook', interval=10, first_iters=(1, 5)),
        checkpoint=dict(type='mmconvmae.LastOptimizerCheckpointHook', by_epoch=False, interval=50, max_keep_ckpts=2,
                        save_best=None),
        visualization=dict(type='VisualizationHook', interval=1)),  # tools/test.py --show-dir draws every image
    log_processor=dict(type='LogProcessor', window_size=10, by_epoch=False),
)

# A fixed seed (demo configs set `randomness = {{_base_.demo_randomness}}`), so that a demo run reproduces the
# README's figures; deterministic kernels are not forced (on CPU results still vary slightly with the thread count).
demo_randomness = dict(seed=0, deterministic=False)
