# Cascade Mask R-CNN with iTPN-B from CLIP-target pretraining on COCO, 3x schedule (36 epochs), batch 64.
# Recipe (official det/configs/itpn/cascade_CLIP_itpn_base_3x.py): the pixel cascade recipe (lr 1e-4, layer decay
# 0.9 / num_layers 30, drop path 0.2) on the CLIP backbone (layer scale 0.1, pyramid fpn_depth 1) with an L1 RPN box
# loss. The official file redefines `roi_head` as a single-stage StandardRoIHead on top of its cascade base model,
# which does not build (num_stages / stage_loss_weights are not StandardRoIHead arguments); the three cascade stages
# here are those of the pixel file (./cascade_mask_rcnn_itpn_base_coco_3x.py).
# Expected (CLIP-B teacher, 800e pretraining): 56.1 box AP / 48.6 mask AP.
_base_ = './cascade_mask_rcnn_itpn_base_coco_3x.py'
pretrained = 'work_dirs/itpn_clip_base_800e_in1k/epoch_800.pth'  # see ./mask_rcnn_itpn_clip_base_coco_3x.py

model = dict(
    backbone=dict(layer_scale_init_value=0.1, init_cfg=dict(checkpoint=pretrained)),
    neck=dict(fpn_depth=1, init_cfg=dict(checkpoint=pretrained)),
    rpn_head=dict(loss_bbox=dict(_delete_=True, type='L1Loss', loss_weight=1.0)))
