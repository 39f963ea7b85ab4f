# CPU demo twin of ../conv2former_tiny_in1k.py: synthetic ImageNet-layout data (4 classes, 64x64 crops), a small
# Conv2Former (11x11 kernels, depths 1-1-3-1, widths 32-256, 320-d pre-logits head) from scratch, fp32,
# 100 iterations; mixup/cutmix, label smoothing and the no-decay groups kept.
_base_ = ['../conv2former_tiny_in1k.py', '../_base_/demo/synthetic_imagenet.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256], kernel_size=11),
        head_channels=320,
        drop_path_rate=0.0),
    head=dict(num_classes=4, in_channels=320),
    data_preprocessor=dict(num_classes=4))

train_dataloader = {{_base_.synthetic_imagenet.train_dataloader}}
val_dataloader = {{_base_.synthetic_imagenet.val_dataloader}}
test_dataloader = {{_base_.synthetic_imagenet.val_dataloader}}
val_evaluator = {{_base_.synthetic_imagenet.evaluator}}
test_evaluator = {{_base_.synthetic_imagenet.evaluator}}

optim_wrapper = dict(type='OptimWrapper', _delete_=True, optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     paramwise_cfg=dict(flat_decay_mult=0.0, norm_decay_mult=0.0, bias_decay_mult=0.0))
train_cfg = {{_base_.demo_cls_schedule.train_cfg}}
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
