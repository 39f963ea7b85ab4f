# Mask R-CNN + FPN with ConvNeXt V2-B on COCO, 3x schedule (36 epochs) with LSJ 1024, batch 32 (8 GPUs x 4).
# Recipe: ConvNeXt V2 paper A.3 and mmdetection projects/ConvNeXt-V2 (see docs/convnext_v2.md#recipes):
# AdamW lr 1e-4, wd 0.05, layer-wise lr decay 0.95 over the 12 "group" layers, drop path 0.4,
# soft-NMS in the R-CNN test. Expected with FCMAE IN-1K weights: 52.9 box AP / 46.6 mask AP (Table 6);
# mmdetection's reproduction: 52.9 / 46.4.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    './_base_/datasets/coco_instance_lsj.py',
    './_base_/schedules/mask_rcnn_adamw_3x.py',
]
image_size = (1024, 1024)
# FCMAE-pretrained encoder released by the authors (no head, no final norm); loaded with official key names.
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_base_1k_224_fcmae.pt'

model = dict(
    data_preprocessor=dict(batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        _delete_=True,
        type='mmconvmae.ConvNeXtV2',
        arch='base',
        out_indices=(0, 1, 2, 3),
        out_type='featmap',
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[128, 256, 512, 1024]),
    test_cfg=dict(rcnn=dict(nms=dict(type='soft_nms', iou_threshold=0.5))))

optim_wrapper = dict(optimizer=dict(lr=1e-4), paramwise_cfg=dict(layer_decay_rate=0.95, decay_type='stage_wise'))
auto_scale_lr = dict(enable=False, base_batch_size=32)
