# iTPN-B ImageNet-1K fine-tuning from pixel pretraining, in mmpretrain (batch 1024 = 32 GPUs x 32).
# Recipe (official itpn_pixel/FINETUNE.md, main_finetune.py --model itpn_base; docs/itpn.md#downstream):
# AdamW lr = blr 4e-4 x 1024 / 256 = 1.6e-3, wd 0.05, layer decay 0.60 rescaled HiViT-style (0.6^(13/31) per
# layer), drop path 0.15, 100 epochs with 5 warm-up, relative position bias (new tables), mean-pooled C16 tokens
# + fc_norm + linear head, RandAugment(9, 0.5), mixup 0.8 / cutmix 1.0, label smoothing 0.1, random erasing 0.25.
# The pyramid is not used for classification. Expected: 85.5 top-1 (1600e pixel), 85.1 (400e).
# Layer ids as the official util/lr_decay.py: only real blocks count (30), a patch merge shares the id of the block
# before it (`layer_id_scheme='skip_merges'`), so patch_embed trains at 0.6^(13/31 x 31) = 0.6^13.
_base_ = './_base_/recipes/vit_ft_in1k_100e.py'
pretrained = 'work_dirs/itpn_pixel_base_1600e_in1k/epoch_1600.pth'

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmconvmae.HiViT',
        arch='base',
        img_size=224,
        rel_pos_bias='per_block',
        drop_path_rate=0.15,
        out_type='avg_featmap',
        layer_id_scheme='skip_merges',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(optimizer=dict(lr=4e-4 * 1024 / 256), paramwise_cfg=dict(layer_decay_rate=0.6**(13 / 31)))
