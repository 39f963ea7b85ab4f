# CPU demo twin of ../mask_rcnn_vitdet_convmae_base_coco.py: synthetic COCO data (3 classes), a tiny ViTDet-style
# ConvMAE from scratch with the structure of the real one (two conv stages, a transformer stage with 6x6 windows
# padded to the 16x16 grid of a 256 input, global blocks 1 and 4, per-block decomposed relative position,
# pos_embed stored at 14x14 and resized in the forward), the simple feature pyramid and the LN heads at 64
# channels, images padded to 256x256 (the square pad), fp32, 300 iterations. Same optimizer groups (layer decay
# 0.8, detectron2's weight-decay rule).
_base_ = ['../mask_rcnn_vitdet_convmae_base_coco.py', '../_base_/demo/synthetic_coco.py']

model = dict(
    data_preprocessor=dict(pad_size_divisor=256),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=[32, 64, 128], depths=[1, 1, 5], num_heads=4),
        img_size=256,
        window_size=6,
        global_attn_indexes=(1, 4),
        drop_path_rate=0.0,
        init_cfg=None),
    neck=dict(in_channels=128, out_channels=64),
    rpn_head={{_base_.demo_mask_rcnn.rpn_head}},
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, conv_out_channels=64, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=3)),
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
