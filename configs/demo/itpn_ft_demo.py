# CPU demo twin of ../itpn_base_ft_in1k.py: synthetic ImageNet-layout data (4 classes, 64x64 crops), the tiny demo
# HiViT (with rel_pos_bias; initialise from the iTPN pretraining demo with prefix 'backbone.'), fp32, 100 iterations;
# mixup/cutmix, label smoothing and the rescaled layer decay kept.
_base_ = ['../itpn_base_ft_in1k.py', '../_base_/demo/synthetic_imagenet.py', '../_base_/demo/itpn_demo_model.py']

model = dict(
    backbone=dict(arch={{_base_.itpn_demo.arch}}, img_size={{_base_.itpn_demo.img_size}}, init_cfg=None),
    head=dict(num_classes=4, in_channels=64),
    data_preprocessor=dict(num_classes=4))

train_dataloader = {{_base_.synthetic_imagenet.train_dataloader}}
val_dataloader = {{_base_.synthetic_imagenet.val_dataloader}}
test_dataloader = {{_base_.synthetic_imagenet.val_dataloader}}
val_evaluator = {{_base_.synthetic_imagenet.evaluator}}
test_evaluator = {{_base_.synthetic_imagenet.evaluator}}

optim_wrapper = dict(type='OptimWrapper', _delete_=True, optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.6**(13 / 5)))
train_cfg = {{_base_.demo_cls_schedule.train_cfg}}
param_scheduler = {{_base_.demo_cls_schedule.param_scheduler}}
default_hooks = {{_base_.demo_cls_schedule.default_hooks}}
log_processor = {{_base_.demo_cls_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
