# iTPN-L/16 ImageNet-1K fine-tuning from CLIP-target pretraining, in mmpretrain (batch 1024 = 8 nodes x 8 GPUs x 16).
# Recipe (official itpn_clip/README.md "Fine-tune iTPN-L/16", run_itpn_finetuning.py, utils/lr_decay.py): the
# CLIP iTPN-B recipe (./itpn_clip_base_ft_in1k.py) with HiViT-L (768-d, stem 2/2, 40 main blocks, 12 heads, layer
# scale 0.1, relative position bias), drop path 0.25, AdamW lr 2e-4 (given directly), layer decay 0.55 rescaled to
# 0.55^(13/45) per real block (44 blocks + 1), 50 epochs with 5 warm-up epochs from 1e-6, cosine to 1e-6.
# Expected: 87.8 top-1 (CLIP-L teacher, 300e pretraining; 87.0 with the CLIP-B teacher).
_base_ = './itpn_clip_base_ft_in1k.py'
pretrained = 'checkpoints/itpn_large_clip_mm.pth'  # see ./mask_rcnn_itpn_clip_large_coco_1x.py

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.25, init_cfg=dict(checkpoint=pretrained)),
    head=dict(in_channels=768))
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(layer_decay_rate=0.55**(13 / 45)))
warmup_epochs, max_epochs = 5, 50
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2e-4, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=1024)
