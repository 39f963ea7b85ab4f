# ConvMAE-B ImageNet-1K fine-tuning from the pretrained encoder, in mmpretrain (batch 1024 = 32 GPUs x 32).
# Recipe: FINETUNE.md / main_finetune.py (docs/convmae.md#configs): 100 epochs with 5 warm-up, AdamW
# lr 2e-3 (blr 5e-4 x 1024 / 256), wd 0.05 (none on norms, biases, pos_embed), layer-wise lr decay 0.65 (patch
# embeddings, pos_embed and stages 1-2 at layer 0, scale 0.65^12), drop path 0.1, global average pooling + fc_norm,
# RandAugment (9, 0.5), random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1, head init std 2e-5, AMP.
# Expected: 85.0 top-1 (84.98 in the official log) from the 1600-epoch encoder.
_base_ = './_base_/recipes/vit_ft_in1k_100e.py'
checkpoint = 'checkpoints/convmae_base_1600e_in1k.pth'  # the released encoder (see the Mask R-CNN config)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmconvmae.ConvMAE',
        arch='base',
        img_size=224,
        out_indices=2,
        out_type='avg_featmap',
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(optimizer=dict(lr=5e-4 * 1024 / 256), paramwise_cfg=dict(layer_decay_rate=0.65))
