# Mask R-CNN with iTPN-B from CLIP-target pretraining on COCO, 3x schedule (36 epochs, steps 27 / 33), batch 64.
# Recipe (official det/configs/itpn/clip_itpn_base_3x_ld090_dp030.py): the pixel 3x recipe (AdamW lr 1.5e-4, layer
# decay 0.9 with the official num_layers 30, drop path 0.3, no rel_pos_bias) on the CLIP backbone: layer scale 0.1 (the
# `gamma_1/2` the CLIP checkpoints carry) and the pyramid with fpn_depth 1, as in CLIP pretraining and the official
# det config (so every pyramid weight is pretrained).
# Expected (CLIP-B teacher, 800e pretraining): 54.1 box AP / 47.5 mask AP.
_base_ = './mask_rcnn_itpn_base_coco_3x.py'
# our CLIP pretraining (./pretrain/itpn_clip_base_300e_in1k.py; max_epochs=800 for the 800e file), or the
# official iTPN-B-CLIP file converted by `python tools/convert/itpn.py itpn_base_clip.pth itpn_base_clip_mm.pth`
pretrained = 'work_dirs/itpn_clip_base_800e_in1k/epoch_800.pth'

model = dict(
    backbone=dict(layer_scale_init_value=0.1, init_cfg=dict(checkpoint=pretrained)),
    neck=dict(fpn_depth=1, init_cfg=dict(checkpoint=pretrained)))
