# CPU demo twin of ../upernet_convmae_base_ade20k.py: synthetic ADE20K-layout data (4 classes), the tiny ConvMAE of
# the Mask R-CNN demo from scratch in the official SEG layout (global attention, per-block relative-position tables,
# layer scale, conv 1/32 level), 128x128 crops, 64-channel heads with BN, fp32, 200 iterations, layer decay 0.75.
_base_ = ['../upernet_convmae_base_ade20k.py', '../_base_/demo/synthetic_ade.py']

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=[32, 64, 128], depths=[1, 1, 4], num_heads=4),
        img_size=128,
        norm_cfg=norm_cfg,
        drop_path_rate=0.0,
        init_cfg=None),
    data_preprocessor={{_base_.demo_upernet.data_preprocessor}},
    decode_head=dict(in_channels=[32, 64, 128, 128], channels=64, num_classes=4, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=4, norm_cfg=norm_cfg),
    test_cfg={{_base_.demo_upernet.test_cfg}})

train_dataloader = {{_base_.synthetic_ade.train_dataloader}}
val_dataloader = {{_base_.synthetic_ade.val_dataloader}}
test_dataloader = {{_base_.synthetic_ade.val_dataloader}}
val_evaluator = {{_base_.synthetic_ade.evaluator}}
test_evaluator = {{_base_.synthetic_ade.evaluator}}

optim_wrapper = dict(type='OptimWrapper', _delete_=True, optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.75))
train_cfg = {{_base_.demo_seg_schedule.train_cfg}}
param_scheduler = {{_base_.demo_seg_schedule.param_scheduler}}
default_hooks = {{_base_.demo_seg_schedule.default_hooks}}
randomness = {{_base_.demo_randomness}}
