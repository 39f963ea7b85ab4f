# UperNet with Conv2Former-T on ADE20K, 512x512 crops, 160k iterations, batch 16 (8 GPUs x 2): the paper's setting
# (UperNet, 160k, 512 crops). The paper publishes no config; the recipe is that of the ConvNeXt-T UperNet it
# compares against (mmseg `convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py`): AdamW lr 1e-4,
# wd 0.05, 1500 warm-up iterations, poly decay, AMP, drop path 0.4, and mmseg's
# `LearningRateDecayOptimizerConstructor` with decay 0.9, `stage_wise`, `num_layers=6` (`per_stage` + `num_layers`
# here): all downsampling layers (the BatchNorm stem included) id 0 -> 0.9 ** 7 = 0.478, stage s id s + 1 ->
# 0.9 ** (6 - s) (stage 0 0.531 ... stage 3 0.729), heads and output norms 1.0.
# Multi-scale test (`tools/test.py --tta`): mmseg's ADE20K `tta_pipeline` (ratios 0.5 ... 1.75, flip), the test
# behind the ConvNeXt-T multi-scale number the paper compares with.
# Expected (paper, secondary source): 48.0 mIoU (multi-scale, +1.3 over ConvNeXt-T).
_base_ = './_base_/upernet_ade20k_160k.py'
checkpoint = 'checkpoints/conv2former_t.pth.tar'  # official IN-1K Conv2Former-T (see the Mask R-CNN config)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmconvmae.Conv2Former',
        arch='tiny',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        norm_eval=True,  # the stem's BatchNorm keeps its ImageNet statistics (2 images per GPU)
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[72, 144, 288, 576], channels=512, num_classes=150),
    auxiliary_head=dict(in_channels=288, num_classes=150))

optim_wrapper = dict(
    optimizer=dict(lr=1e-4),
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='per_stage', num_layers=6))
