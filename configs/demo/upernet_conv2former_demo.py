# CPU demo twin of ../upernet_conv2former_tiny_ade20k.py: synthetic ADE20K-layout data (4 classes), a small
# Conv2Former (11x11 kernels, depths 1-1-3-1, widths 32-256) from scratch, 128x128 crops, 64-channel heads with BN,
# fp32, 200 iterations.
_base_ = ['../upernet_conv2former_tiny_ade20k.py', '../_base_/demo/synthetic_ade.py']

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256], kernel_size=11),
        drop_path_rate=0.0,
        init_cfg=None),
    data_preprocessor={{_base_.demo_upernet.data_preprocessor}},
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=64, num_classes=4, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=4, norm_cfg=norm_cfg),
    test_cfg={{_base_.demo_upernet.test_cfg}})

train_dataloader = {{_base_.synthetic_ade.train_dataloader}}
val_dataloader = {{_base_.synthetic_ade.val_dataloader}}
test_dataloader = {{_base_.synthetic_ade.val_dataloader}}
val_evaluator = {{_base_.synthetic_ade.evaluator}}
test_evaluator = {{_base_.synthetic_ade.evaluator}}

optim_wrapper = dict(type='OptimWrapper', _delete_=True, optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='per_stage', num_layers=6))
train_cfg = {{_base_.demo_seg_schedule.train_cfg}}
param_scheduler = {{_base_.demo_seg_schedule.param_scheduler}}
default_hooks = {{_base_.demo_seg_schedule.default_hooks}}
randomness = {{_base_.demo_randomness}}
