# Mask R-CNN + FPN with ConvMAE-B on COCO: the official DET recipe (Alpha-VL/ConvMAE DET/configs/convmae/
# convmae_base_mask_rcnn_FPN_25ep.py, docs/convmae.md#configs), 25 epochs of LSJ 1024 at batch 32 (8 GPUs x 4).
#   backbone: 16x16 windows, global attention in blocks 0/3/6/10, two shared relative-position tables,
#             pos_embed interpolated 14x14 -> 64x64 on load and frozen, drop path 0.1, outputs (256, 384, 768, 768)
#             at strides 4/8/16/32 (1/32 = 2x2 max-pool of 1/16);
#   FPN on the four levels (+ max-pool P6) with SyncBN, 2-conv RPN, 4conv1fc box head and 4-conv mask head with SyncBN;
#   AdamW lr 8e-5, betas (0.9, 0.999), wd 0.1, no layer-wise decay, warm-up 0.5% of the iterations from 0.001 then
#   cosine to 0, AMP. Weight decay as detectron2's get_default_optimizer_params(weight_decay_norm=0.0, overrides=
#   {pos_embed, relative_position_bias_table: 0}) with its default weight_decay_bias=None: none on the parameters
#   of norm layers (LN, SyncBN), pos_embed and the relative-position tables; biases and other 1-D parameters ARE
#   decayed at 0.1 (docs/convmae.md).
# Expected with the 1600-epoch IN-1K encoder: 53.2 box AP / 47.1 mask AP (paper / README).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    './_base_/datasets/coco_instance_lsj.py',
    './_base_/det_runtime.py',
]
image_size = (1024, 1024)
norm_cfg = dict(type='SyncBN', requires_grad=True)
# The released ConvMAE-B encoder (`convmae.pth` from the official README, Google Drive; encoder only, loads with
# official key names: nothing of the backbone is missing except the two new relative-position tables).
checkpoint = 'checkpoints/convmae_base_1600e_in1k.pth'  # noqa

model = dict(
    data_preprocessor=dict(batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        _delete_=True,
        type='mmconvmae.ConvMAEDet',
        arch='base',
        img_size=1024,
        window_size=16,
        global_attn_indexes=(0, 3, 6, 10),
        rel_pos_bias='shared',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[256, 384, 768, 768], out_channels=256, num_outs=5, norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            fc_out_channels=1024,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# official test: resize the long side to 1024 and pad to 1024x1024 (detectron2 ResizeShortestEdge + FixedSizeCrop)
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(128, 128, 128))),  # FixedSizeCrop's pad value
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 25
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    # the official DET has no layer decay; weight decay as detectron2 (see the header)
    paramwise_cfg=dict(layer_decay_rate=1.0, norm_decay_mult=0.0, bias_decay_mult=1.0, flat_decay_mult=1.0,
                       no_decay_keywords=('pos_embed', 'relative_position_bias_table')),
    optimizer=dict(type='AdamW', lr=8e-5, betas=(0.9, 0.999), weight_decay=0.1))
# 25 epochs at batch 32 = 92,187 iterations; the official warm-up is 0.5% of them (461) from a factor of 0.001
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=461),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=32)
