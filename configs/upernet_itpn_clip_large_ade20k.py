# UperNet with iTPN-L from CLIP-target pretraining on ADE20K, 512x512 crops, 160k iterations, batch 16.
# Recipe (official seg/configs/itpn/clip_upernet_itpn_large_12_512_slide_160k_ade20k_pt2ft.py): HiViT-L (768-d,
# stem 2/2, 40 main blocks, 12 heads) with layer scale 0.1 and relative position bias, drop path 0.2, pyramid
# fpn_depth 2 (concat outputs 448 / 640 / 1024 / 1024 channels), UPerHead 768 channels, auxiliary head on the
# 1024-channel 1/16 level; AdamW lr 3e-5, wd 0.05, layer decay 0.95 rescaled to r = 0.95^(13/46) with the official
# num_layers 44 on 46 `blocks` entries (block i at r^(44 - i)), poly schedule, slide test.
# Expected (CLIP-L teacher, 300e pretraining): 57.7 mIoU.
_base_ = './upernet_itpn_clip_base_ade20k.py'
pretrained = 'checkpoints/itpn_large_clip_mm.pth'  # see ./mask_rcnn_itpn_clip_large_coco_1x.py

model = dict(
    backbone=dict(arch='large', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=768, init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[448, 640, 1024, 1024]),
    auxiliary_head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95**(13 / 46), num_layers=44))
