# Pieces for the CPU demo twins of the UperNet entry configs, on the synthetic ADE20K-layout set written by
# `tools/data/make_synthetic.py` under $MMCONVMAE_DATA (default data/synthetic): labels 1 = background and
# 2..4 = circle / rectangle / triangle; reduce_zero_label turns them into 4 classes (0 stays "other" = ignored).
# A demo config inherits its entry config and this file, then takes e.g.
#     train_dataloader = {{_base_.synthetic_ade.train_dataloader}}
synthetic_ade = dict(
    classes=('background', 'circle', 'rectangle', 'triangle'),
    train_dataloader=dict(
        _delete_=True,
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='BaseSegDataset',  # ADE20KDataset only accepts subsets of the 150 ADE classes
            img_suffix='.jpg',
            seg_map_suffix='.png',
            reduce_zero_label=True,
            data_root='{{$MMCONVMAE_DATA:data/synthetic}}/ade/ADEChallengeData2016',
            metainfo=dict(classes=('background', 'circle', 'rectangle', 'triangle'),
                          palette=[[120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50]]),
            data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True),
                dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
                dict(type='RandomCrop', crop_size=(128, 128), cat_max_ratio=0.75),
                dict(type='RandomFlip', prob=0.5),
                dict(type='PhotoMetricDistortion'),
                dict(type='PackSegInputs'),
            ])),
    val_dataloader=dict(
        _delete_=True,
        batch_size=1,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='BaseSegDataset',  # ADE20KDataset only accepts subsets of the 150 ADE classes
            img_suffix='.jpg',
            seg_map_suffix='.png',
            reduce_zero_label=True,
            data_root='{{$MMCONVMAE_DATA:data/synthetic}}/ade/ADEChallengeData2016',
            metainfo=dict(classes=('background', 'circle', 'rectangle', 'triangle'),
                          palette=[[120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50]]),
            data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(256, 128), keep_ratio=True),
                dict(type='LoadAnnotations', reduce_zero_label=True),
                dict(type='PackSegInputs'),
            ])),
    evaluator=dict(_delete_=True, type='IoUMetric', iou_metrics=['mIoU']),
)

# 128x128 crops and a sliding-window test at 128 (demo configs also use 64-channel heads with plain BN: SyncBN
# needs a distributed run).
demo_upernet = dict(
    data_preprocessor=dict(size=(128, 128)),
    test_cfg=dict(mode='slide', crop_size=(128, 128), stride=(85, 85)),
)

demo_seg_schedule = dict(
    train_cfg=dict(_delete_=True, type='IterBasedTrainLoop', max_iters=200, val_interval=200),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
        dict(type='PolyLR', power=1.0, begin=20, end=200, eta_min=0.0, by_epoch=False),
    ],
    default_hooks=dict(
        logger=dict(type='mmconvmae.EarlyLoggerHook', interval=10, first_iters=(1, 5), log_metric_by_epoch=False),
        checkpoint=dict(type='mmconvmae.LastOptimizerCheckpointHook', by_epoch=False, interval=100,
                        max_keep_ckpts=2),
        visualization=dict(type='SegVisualizationHook', interval=1)),  # tools/test.py --show-dir draws every image
)

# A fixed seed (demo configs set `randomness = {{_base_.demo_randomness}}`), so that a demo run reproduces the
# README's figures; deterministic kernels are not forced (on CPU results still vary slightly with the thread count).
demo_randomness = dict(seed=0, deterministic=False)
