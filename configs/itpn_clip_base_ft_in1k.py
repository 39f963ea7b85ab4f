# iTPN-B ImageNet-1K fine-tuning from CLIP-target pretraining, in mmpretrain (batch 2048 = 8 nodes x 8 GPUs x 32).
# Recipe (official itpn_clip/README.md "Fine-tune iTPN-B", run_itpn_finetuning.py, utils/lr_decay.py): as the pixel
# fine-tuning (../configs/itpn_base_ft_in1k.py: mean-pooled C16 + fc_norm + linear head, relative position bias,
# RandAugment, mixup / cutmix, label smoothing, random erasing, layer decay 0.60 rescaled to 0.6^(13/31) per real
# block) with the CLIP backbone's layer scale 0.1 (`--layer_scale_init_value` default), drop path 0.1, AdamW lr 5e-4
# (given directly, not scaled by the batch), wd 0.05, 100 epochs with 20 warm-up epochs from 1e-6, cosine to 1e-6.
# Expected: 86.2 top-1 (CLIP-B teacher, 800e pretraining), 85.9 (300e).
_base_ = './itpn_base_ft_in1k.py'
pretrained = 'work_dirs/itpn_clip_base_800e_in1k/epoch_800.pth'  # see ./mask_rcnn_itpn_clip_base_coco_3x.py

model = dict(
    backbone=dict(layer_scale_init_value=0.1, drop_path_rate=0.1, init_cfg=dict(checkpoint=pretrained)))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
warmup_epochs, max_epochs = 20, 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 5e-4, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=2048)
