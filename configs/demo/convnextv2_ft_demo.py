# CPU demo twin of ../convnextv2_base_ft_in1k.py: synthetic ImageNet-layout data (4 classes, 64x64 crops),
# ConvNeXt V2-atto from scratch, fp32, 100 iterations; mixup/cutmix, label smoothing and layer decay kept.
_base_ = ['../convnextv2_base_ft_in1k.py', '../_base_/demo/synthetic_imagenet.py']

model = dict(
    backbone=dict(arch='atto', init_cfg=None),
    head=dict(num_classes=4, in_channels=320),
    data_preprocessor=dict(num_classes=4))

train_dataloader = {{_base_.synthetic_imagenet.train_dataloader}}
val_dataloader = {{_base_.synthetic_imagenet.val_dataloader}}
test_dataloader = {{_base_.synthetic_imagenet.val_dataloader}}
val_evaluator = {{_base_.synthetic_imagenet.evaluator}}
test_evaluator = {{_base_.synthetic_imagenet.evaluator}}

optim_wrapper = dict(type='OptimWrapper', _delete_=True, optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.6, decay_type='stage_wise'))
custom_hooks = []  # no EMA for a 100-iteration run
train_cfg = {{_base_.demo_cls_schedule.train_cfg}}
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
