# Mask R-CNN with iTPN-B on COCO, 1x schedule (12 epochs), batch 64 (official: 32 GPUs x 2).
# The whole pretrained pyramid is the detector's FPN: backbone (HiViT iTPN-B, global attention at 1/16, no rel_pos_bias)
# and neck (iTPNPyramid: five 256-ch levels, strides 4-64, the last two parameter-free average pools) both load
# from one iTPN pretraining checkpoint; only the RPN and RoI heads start from random weights.
# Recipe (official det/configs/itpn/pixel_itpn_base_1x_ld090_dp005.py, docs/itpn.md#downstream): AdamW lr 2e-4,
# betas (0.9, 0.999), wd 0.05 (none on 1-D params / biases / absolute_pos_embed), layer-wise lr decay 0.9 per
# `blocks` entry (pyramid and heads at full lr), drop path 0.05, HiViT LayerNorm eps 1e-5 (nn.LayerNorm default of
# the official det backbone), 4conv-1fc box head with SyncBN and GIoU loss (weight 10), DETR-style multi-scale
# training (short side 480-800, long <= 1333, or crop 384-600 then resize), fp16.
# Official constructor quirks reproduced (det/mmcv_custom/layer_decay_optimizer_constructor.py, docs/itpn.md):
# `num_layers=30` on a model with 32 `blocks` entries, so block i gets 0.9^(30 - i) (the last two > 1; set
# `num_layers=None` in paramwise_cfg for 0.9^(32 - i)), and `absolute_pos_embed` is missing from its id-0 list, so it
# trains at the full lr (`top_layer_keys`; drop it for 0.9^33).
# Deliberate difference: fpn_depth 2, as in pixel pretraining (the official det config builds fpn_depth 1 and so
# silently drops the pretrained `block_*.1` MLP blocks).
# Expected (pixel, 1600e pretraining): 53.0 box AP / 46.5 mask AP (CLIP-B 800e: 53.2 / 46.6).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    './_base_/datasets/coco_instance_ms_crop.py',
    './_base_/schedules/mask_rcnn_adamw_3x.py',
]
# our pixel pretraining (./pretrain/itpn_pixel_base_1600e_in1k.py), or an official file converted by
# `python tools/convert/itpn.py itpn_base_pixel.pth itpn_base_pixel_mm.pth` (same layout)
pretrained = 'work_dirs/itpn_pixel_base_1600e_in1k/epoch_1600.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    data_preprocessor=dict(pad_size_divisor=64),
    backbone=dict(
        _delete_=True,
        type='mmconvmae.HiViT',
        arch='base',
        img_size=224,
        rel_pos_bias=None,
        drop_path_rate=0.05,
        norm_eps=1e-5,
        out_indices=(0, 1, 2),
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmconvmae.iTPNPyramid',
        in_channels=512,
        fpn_dim=256,
        fpn_depth=2,
        out_type='pyramid',
        num_outs=5,
        norm_eps=1e-5,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='neck.')),
    roi_head=dict(
        bbox_head=dict(
            _delete_=True,
            type='Shared4Conv1FCBBoxHead',
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=80,
            norm_cfg=norm_cfg,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            reg_decoded_bbox=True,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=10.0))))

train_dataloader = dict(num_workers=4)

max_epochs = 12
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    optimizer=dict(lr=2e-4),
    paramwise_cfg=dict(layer_decay_rate=0.9, num_layers=30, top_layer_keys=('absolute_pos_embed', )))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[9, 11], gamma=0.1),
]
auto_scale_lr = dict(enable=False, base_batch_size=64)
