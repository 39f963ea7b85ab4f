# UperNet with iTPN-B from CLIP-target pretraining on ADE20K, 512x512 crops, 160k iterations, batch 16.
# Recipe (official seg/configs/itpn/clip_upernet_itpn_base_12_512_slide_160k_ade20k_pt2ft.py): the pixel UperNet
# recipe (AdamW lr 3e-5, wd 0.05, fpn_depth 2, poly schedule, slide test) on the CLIP backbone: layer scale 0.1,
# relative position bias (the tables the CLIP checkpoints carry; weight-decayed, as the official constructor does),
# drop path 0.2, and the official paramwise num_layers 44 on a model with 32 `blocks` entries (likely a copy of the
# iTPN-L value; reproduced: r = 0.9^(13/46), block i at r^(44 - i)). The pyramid's second MLP blocks
# (fpn_depth 2 > 1 of CLIP pretraining) start random, as in the official code.
# Expected (CLIP-B teacher, 800e pretraining): 54.7 mIoU.
_base_ = './upernet_itpn_base_ade20k.py'
pretrained = 'work_dirs/itpn_clip_base_800e_in1k/epoch_800.pth'  # see ./mask_rcnn_itpn_clip_base_coco_3x.py

model = dict(
    backbone=dict(rel_pos_bias='per_block', layer_scale_init_value=0.1, drop_path_rate=0.2,
                  init_cfg=dict(checkpoint=pretrained)),
    neck=dict(init_cfg=dict(checkpoint=pretrained)))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9**(13 / 46), num_layers=44))
