# Mask R-CNN with the ViTDet-style ConvMAE-B on COCO: OpenGVLab/Official-ConvMAE-Det
# projects/ConvMAEDet/configs/COCO/mask_rcnn_vitdet_convmae_b_25ep.py (detectron2 LazyConfig, commit cd634d3) and
# the bases it imports (configs/common/models/mask_rcnn_vitdet.py, mask_rcnn_fpn.py, optim.py, train.py,
# projects/ConvMAEDet/configs/common/coco_loader_lsj.py), line by line:
#   backbone  ConvViT(img_size=1024, patch_size=(4, 2, 2), embed_dim=(256, 384, 768), depth=(2, 2, 11),
#             num_heads=12, drop_path_rate=0.1, window_size=14, mlp_ratio=4, qkv_bias=True, LayerNorm eps 1e-6,
#             window_block_indexes=[0, 2, 3, 5, 6, 8, 9] (global 1, 4, 7, 10), use_rel_pos=True,
#             pretrain_use_cls_token=False (pos_embed 14x14, resized at every forward), out_feature='last_feat'
#             (only the stride-16 map));
#   neck      SimpleFeaturePyramid(out_channels=256, scale_factors=(4, 2, 1, 0.5), top_block=LastLevelMaxPool,
#             norm='LN', square_pad=1024);
#   heads     2-conv RPN (no norm), 4conv1fc box head and 4-conv mask head with LN (conv_norm='LN');
#   data      RGB, ImageNet mean/std; LSJ: flip, ResizeScale(0.1-2.0, 1024), FixedSizeCrop(1024, pad=False); test
#             ResizeShortestEdge(1024, max_size=1024); every image zero-padded (after normalisation) to 1024x1024;
#   optimizer AdamW(lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1), weight_decay_norm=0 (torch.nn.LayerNorm modules
#             only: the backbone's), pos_embed without decay, lr_factor_func=get_vit_lr_decay_rate(lr_decay_rate=0.8,
#             num_layers=11);
#   schedule  184,375 iterations at batch 16 (25 epochs), x0.1 at 163,889 and 177,546, linear warm-up over 250
#             iterations from 0.001, AMP; checkpoint every 2,500 iterations (keep 2), evaluation every 7,500.
# Expected with the 1600-epoch IN-1K encoder (convmae.pth): 53.9 box AP / 47.6 mask AP (official README).
# Not reproduced: detectron2's fp16 gradient compression of DDP (train.ddp.fp16_compression; communication only).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    './_base_/datasets/coco_instance_lsj.py',
    './_base_/det_runtime.py',
]
image_size = (1024, 1024)
# detectron2 get_norm('LN') in the neck and heads: channel LayerNorm, eps 1e-6
norm_cfg = dict(type='mmconvmae.LN2d', eps=1e-6, requires_grad=True)
# The released ConvMAE-B encoder (`convmae.pth`, official README; train.init_checkpoint): everything loads except
# the 22 relative-position tables, which start at zero as in the official fine-tuning.
checkpoint = 'checkpoints/convmae_base_1600e_in1k.pth'  # noqa

model = dict(
    # square_pad=1024: images are at most 1024x1024 after the LSJ crop / test resize, so padding to a multiple of
    # 1024 pads every image (and its masks) to 1024x1024 with zeros after normalisation, as detectron2 does
    data_preprocessor=dict(pad_size_divisor=1024, pad_mask=True),
    backbone=dict(
        _delete_=True,
        type='mmconvmae.ConvMAEViTDet',
        arch='base',
        img_size=1024,
        pretrain_img_size=224,
        window_size=14,
        global_attn_indexes=(1, 4, 7, 10),
        use_rel_pos=True,
        out_indices=(2, ),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(
        _delete_=True,
        type='mmconvmae.SimpleFeaturePyramid',
        in_channels=768,
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        in_stride=16,
        norm_cfg=norm_cfg,
        top_block='maxpool'),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            fc_out_channels=1024,
            norm_cfg=norm_cfg),
        mask_head=dict(num_convs=4, norm_cfg=norm_cfg)))

# test: ResizeShortestEdge(1024, max_size=1024) = the long side to 1024; the square padding is the preprocessor's
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# total batch 16 = 8 GPUs x 2
train_dataloader = dict(batch_size=2)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 184375
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=7500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    # lr: ConvMAEViTDet.get_layer_depth = get_vit_lr_decay_rate (patch embeddings and stages 1-2 at 0.8^12,
    # blocks3.i at 0.8^(11 - i), pos_embed / neck / heads at 1). Weight decay as detectron2's
    # get_default_optimizer_params(weight_decay_norm=0.0, overrides={'pos_embed': {'weight_decay': 0.0}}): 0 for
    # the backbone's torch.nn.LayerNorm parameters and pos_embed, 0.1 for everything else (biases, the
    # rel_pos_h/w tables, and the neck / head LayerNorms, which are detectron2's own LayerNorm class there).
    paramwise_cfg=dict(
        layer_decay_rate=0.8,
        bias_decay_mult=1.0,
        flat_decay_mult=1.0,
        no_decay_mult=1.0,
        custom_keys={
            'backbone.pos_embed': dict(decay_mult=0.0),
            'backbone.patch_embed1.norm.': dict(decay_mult=0.0),
            'backbone.patch_embed2.norm.': dict(decay_mult=0.0),
            'backbone.patch_embed3.norm.': dict(decay_mult=0.0),
            '.norm1.': dict(decay_mult=0.0),
            '.norm2.': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[163889, 177546], gamma=0.1),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2500, max_keep_ckpts=2))
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=16)
