# UperNet with ConvMAE-B on ADE20K: the official SEG recipe (Alpha-VL/ConvMAE SEG/configs/convmae/
# upernet_convmae_base_512_slide_160k_ade20k.py, docs/convmae.md#configs), 512x512 crops, 160k iterations,
# batch 16 (8 GPUs x 2).
#   backbone: global attention in every block, a relative-position table per block, layer scale 1.0, stage-3
#             LayerNorm eps 1e-5 (as the official SEG code), drop path 0.2, pos_embed interpolated 14x14 -> 32x32 on
#             load; outputs (256, 384, 768, 768), the 4th from Conv 3x3/2 (no padding) + SyncBN + GELU (`fpn`);
#   UperHead channels 768, auxiliary FCN head on the 1/16 level (weight 0.4);
#   AdamW lr 1e-4, wd 0.05, layer-wise lr decay 0.75 over 11 + 1 layers (stages 1-2 and patch embeddings at
#   layer 0), 1500 warm-up iterations then poly (power 1) to 0, fp16 (AMP); slide inference 512 / stride 341.
#   Weight decay 0.05 on everything but 1-D parameters and biases: the official constructor
#   (SEG/mmcv_custom/layer_decay_optimizer_constructor.py) exempts the bare names 'pos_embed' / 'cls_token', which
#   never equal the 'backbone.'-prefixed names it sees, so pos_embed and the relative-position tables are decayed
#   (reproduced with no_decay_keywords=(); drop it to exempt them; docs/convmae.md).
# Expected with the 1600-epoch IN-1K encoder: 51.7 mIoU (single scale; paper / README).
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    './_base_/seg_runtime.py',
]
crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
checkpoint = 'checkpoints/convmae_base_1600e_in1k.pth'  # the released encoder (see the Mask R-CNN config)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmconvmae.ConvMAE',
        arch='base',
        img_size=512,
        out_indices=(0, 1, 2, 3),
        rel_pos_bias='per_block',
        layer_scale_init_value=1.0,
        downsample32='conv',
        norm_cfg=norm_cfg,
        stage3_norm_eps=1e-5,
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[256, 384, 768, 768], channels=768, num_classes=150),
    auxiliary_head=dict(in_channels=768, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.75, no_decay_keywords=()),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=160000, eta_min=0.0, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=16)
