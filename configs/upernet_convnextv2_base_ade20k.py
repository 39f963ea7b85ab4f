# UperNet with ConvNeXt V2-B on ADE20K, 512x512 crops, 160k iterations, batch 16 (8 GPUs x 2).
# Recipe: ConvNeXt V2 paper A.4 (AdamW lr 1e-4, wd 0.05, layer decay 0.9, drop path 0.4, initialised from the
# IN-1K fine-tuned weights, following SimMIM). The V2 repo has no segmentation code; its authors point to
# ConvNeXt's, whose `upernet_convnext_base_512_160k_ade20k_*.py` this follows: its constructor
# (`semantic_segmentation/mmcv_custom/layer_decay_optimizer_constructor.py`) with `stage_wise`, `num_layers=12`
# gives all downsampling layers id 0, stage s id s + 1 and the rest id 13, scale 0.9 ** (13 - id): stages 0..3
# at 0.282 / 0.314 / 0.349 / 0.387, downsampling 0.254, heads and output norms 1.0 (`per_stage` + `num_layers`
# here). Quirk reproduced: `num_layers=12` is the block-group count of the layer-wise scheme, so even stage 3
# trains at 0.39x; drop `num_layers` for the intended per-stage decay (stage 3 at 0.9, stem 0.59).
# Multi-scale test (`tools/test.py --tta`): mmseg's ADE20K `tta_pipeline`, ratios 0.5, 0.75, ..., 1.75 of
# (2048, 512) with flip, i.e. the BEiT `--aug-test` that ConvNeXt's README uses (its `_ms` configs infer in
# 'whole' mode: add `--cfg-options model.test_cfg.mode=whole` to match that too).
# Expected: 52.1 mIoU multi-scale (paper Table 7).
_base_ = './_base_/upernet_ade20k_160k.py'
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_base_1k_224_ema.pt'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmconvmae.ConvNeXtV2',
        arch='base',
        out_indices=(0, 1, 2, 3),
        out_type='featmap',
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[128, 256, 512, 1024], channels=512, num_classes=150),
    auxiliary_head=dict(in_channels=512, num_classes=150))

optim_wrapper = dict(
    optimizer=dict(lr=1e-4),
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='per_stage', num_layers=12))
