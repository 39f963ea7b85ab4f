# CPU demo twin of ../mask_rcnn_convnextv2_base_coco.py: synthetic data, ConvNeXt V2-atto from scratch,
# 256x256 images, lighter heads, fp32, 300 iterations. Same model code, recipe structure and layer decay.
_base_ = ['../mask_rcnn_convnextv2_base_coco.py', '../_base_/demo/synthetic_coco.py']

model = dict(
    backbone=dict(arch='atto', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[40, 80, 160, 320], out_channels=64),
    data_preprocessor={{_base_.demo_mask_rcnn.data_preprocessor}},
    rpn_head={{_base_.demo_mask_rcnn.rpn_head}},
    roi_head={{_base_.demo_mask_rcnn.roi_head}},
    train_cfg={{_base_.demo_mask_rcnn.train_cfg}},
    test_cfg={{_base_.demo_mask_rcnn.test_cfg}})

train_dataloader = {{_base_.synthetic_coco.train_dataloader}}
val_dataloader = {{_base_.synthetic_coco.val_dataloader}}
test_dataloader = {{_base_.synthetic_coco.val_dataloader}}
val_evaluator = {{_base_.synthetic_coco.evaluator}}
test_evaluator = {{_base_.synthetic_coco.evaluator}}

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-3))
train_cfg = {{_base_.demo_schedule.train_cfg}}
param_scheduler = {{_base_.demo_schedule.param_scheduler}}
default_hooks = {{_base_.demo_schedule.default_hooks}}
log_processor = {{_base_.demo_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
