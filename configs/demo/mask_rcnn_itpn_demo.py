# CPU demo twin of ../mask_rcnn_itpn_base_coco_1x.py: synthetic COCO-format data, the tiny demo HiViT + pyramid
# (64-ch levels, strides 4-64; initialise both from the iTPN pretraining demo with init_cfg prefixes 'backbone.' /
# 'neck.'), 256x256 images, lighter heads, fp32, 300 iterations. Same model code, neck, heads and layer decay.
_base_ = ['../mask_rcnn_itpn_base_coco_1x.py', '../_base_/demo/synthetic_coco.py',
          '../_base_/demo/itpn_demo_model.py']

model = dict(
    backbone=dict(arch={{_base_.itpn_demo.arch}}, img_size={{_base_.itpn_demo.img_size}}, drop_path_rate=0.0,
                  with_cp=False, init_cfg=None),
    neck=dict(in_channels=64, fpn_dim={{_base_.itpn_demo.fpn_dim}}, init_cfg=None),
    data_preprocessor={{_base_.demo_mask_rcnn.data_preprocessor}},
    rpn_head={{_base_.demo_mask_rcnn.rpn_head}},
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, conv_out_channels=64, fc_out_channels=256, num_classes=3,
                       norm_cfg=dict(type='BN', requires_grad=True)),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=3)),
    train_cfg={{_base_.demo_mask_rcnn.train_cfg}},
    test_cfg={{_base_.demo_mask_rcnn.test_cfg}})

train_dataloader = {{_base_.synthetic_coco.train_dataloader}}
val_dataloader = {{_base_.synthetic_coco.val_dataloader}}
test_dataloader = {{_base_.synthetic_coco.val_dataloader}}
val_evaluator = {{_base_.synthetic_coco.evaluator}}
test_evaluator = {{_base_.synthetic_coco.evaluator}}

# the entry recipe's official layer ids, with num_layers = stem MLP blocks + main blocks (1 + 1 + 2) as officially
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-3), paramwise_cfg=dict(num_layers=4))
train_cfg = {{_base_.demo_schedule.train_cfg}}
param_scheduler = {{_base_.demo_schedule.param_scheduler}}
default_hooks = {{_base_.demo_schedule.default_hooks}}
log_processor = {{_base_.demo_schedule.log_processor}}
randomness = {{_base_.demo_randomness}}
