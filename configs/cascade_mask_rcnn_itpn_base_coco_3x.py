# Cascade Mask R-CNN with iTPN-B (pixel pretraining) on COCO, 3x schedule (36 epochs, steps 27 / 33), batch 64.
# Recipe (official det/configs/itpn/cascade_pixel_itpn_base_3x.py): the Mask R-CNN 3x recipe (backbone, pyramid as
# the FPN, multi-scale training, AdamW with the official layer decay 0.9 / num_layers 30) with lr 1e-4 and drop
# path 0.2; three cascade stages, each a 4conv-1fc box head with SyncBN, class-specific regression of decoded boxes
# and GIoU loss (weight 10), target stds (0.1, 0.1, 0.2, 0.2) / (0.05, 0.05, 0.1, 0.1) / (0.033, 0.033, 0.067,
# 0.067), IoU thresholds 0.5 / 0.6 / 0.7, stage weights 1 / 0.5 / 0.25; RPN with smooth-L1 (beta 1/9) as in the
# official base model file (_base_/models/cascade_mask_rcnn_vit_fpn.py).
# Expected (pixel, 1600e pretraining): 56.0 box AP / 48.5 mask AP.
_base_ = './mask_rcnn_itpn_base_coco_3x.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='CascadeRCNN',
    backbone=dict(drop_path_rate=0.2),
    rpn_head=dict(loss_bbox=dict(_delete_=True, type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        _delete_=True,
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=[
            dict(type='Shared4Conv1FCBBoxHead', in_channels=256, conv_out_channels=256, fc_out_channels=1024,
                 roi_feat_size=7, num_classes=80, norm_cfg=norm_cfg,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=stds),
                 reg_class_agnostic=False, reg_decoded_bbox=True,
                 loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 loss_bbox=dict(type='GIoULoss', loss_weight=10.0))
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067])
        ],
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=80,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(
        rpn_proposal=dict(max_per_img=2000),
        rcnn=[
            dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=iou, neg_iou_thr=iou, min_pos_iou=iou,
                               match_low_quality=False, ignore_iof_thr=-1),
                 sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                              add_gt_as_proposals=True),
                 mask_size=28, pos_weight=-1, debug=False)
            for iou in (0.5, 0.6, 0.7)
        ]))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
