# Pieces for the CPU demo twins of the Mask R-CNN entry configs, on the synthetic COCO-format set written by
# `tools/data/make_synthetic.py` (3 classes, 192-320 px images) under $MMCONVMAE_DATA (default data/synthetic).
# A demo config inherits its entry config and this file, then takes the pieces it needs, e.g.
#     train_dataloader = {{_base_.synthetic_coco.train_dataloader}}
# Everything sits inside three dicts so that no key collides with the entry config.
synthetic_coco = dict(
    train_dataloader=dict(
        _delete_=True,
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='CocoDataset',
            data_root='{{$MMCONVMAE_DATA:data/synthetic}}/coco/',
            metainfo=dict(classes=('circle', 'rectangle', 'triangle')),
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=8),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                dict(type='RandomResize', scale=(256, 256), ratio_range=(0.8, 1.25), keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(256, 256), recompute_bbox=True,
                     allow_negative_crop=True),
                dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
                dict(type='RandomFlip', prob=0.5),
                dict(type='PackDetInputs'),
            ])),
    val_dataloader=dict(
        _delete_=True,
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='CocoDataset',
            data_root='{{$MMCONVMAE_DATA:data/synthetic}}/coco/',
            metainfo=dict(classes=('circle', 'rectangle', 'triangle')),
            ann_file='annotations/instances_val2017.json',
            data_prefix=dict(img='val2017/'),
            test_mode=True,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(256, 256), keep_ratio=True),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                dict(type='PackDetInputs',
                     meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
            ])),
    evaluator=dict(
        _delete_=True,
        type='CocoMetric',
        ann_file='{{$MMCONVMAE_DATA:data/synthetic}}/coco/annotations/instances_val2017.json',
        metric=['bbox', 'segm'],
        format_only=False),
)

# Lighter heads for 2 CPU cores: 64-channel FPN / RPN / RoI heads and 128 sampled RoIs per image (the head
# structure is unchanged). Images are padded to 256x256 as the entry configs pad to 1024x1024.
demo_mask_rcnn = dict(
    data_preprocessor=dict(batch_augments=[dict(type='BatchFixedSizePad', size=(256, 256), pad_mask=True)]),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=3)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=500), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)),
)

# A short iteration-based CPU schedule: plain fp32 OptimWrapper (AmpOptimWrapper needs a GPU), linear warm-up,
# step decay near the end, a checkpoint every 100 iterations and a COCO evaluation at the end.
demo_schedule = dict(
    train_cfg=dict(_delete_=True, type='IterBasedTrainLoop', max_iters=300, val_interval=300),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=300, milestones=[250], gamma=0.1),
    ],
    default_hooks=dict(
        logger=dict(type='mmconvmae.EarlyLoggerHook', interval=10, first_iters=(1, 5)),
        checkpoint=dict(type='mmconvmae.LastOptimizerCheckpointHook', by_epoch=False, interval=100,
                        max_keep_ckpts=2)),
    log_processor=dict(type='LogProcessor', window_size=10, by_epoch=False),
)

# A fixed seed (demo configs set `randomness = {{_base_.demo_randomness}}`), so that a demo run reproduces the
# README's figures; deterministic kernels are not forced (on CPU results still vary slightly with the thread count).
demo_randomness = dict(seed=0, deterministic=False)
