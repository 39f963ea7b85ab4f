# ConvNeXt V2 ImageNet-1K fine-tuning from the FCMAE encoder (official `main_finetune.py`), shared by the
# per-arch configs `configs/convnextv2_{arch}_ft_in1k.py`, which set the arch, drop path, lr, weight decay,
# layer decay, label smoothing, mixing and the schedule (official TRAINING.md commands and the paper's
# Tables 9-11). Common to every arch: batch 1024 (32 GPUs x 32), AdamW (0.9, 0.999), eps 1e-8, lr = blr x 1024 /
# 256, no weight decay on 1-D parameters, biases and GRN gamma/beta (commit 2553895 of the official code),
# RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25, EMA 0.9999 (evaluated), AMP, head init std 2e-5
# (trunc-normal 0.02 x `head_init_scale` 0.001), cosine to min lr 1e-6 stepped per iteration.
# The data (224 or 384 pipelines) comes with the inheriting file (./convnextv2_ft_in1k_224.py for the IN-1K configs).
_base_ = '../cls_train_runtime.py'

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmconvmae.ConvNeXtV2', arch='base', drop_path_rate=0.1, out_type='avg_featmap'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(
    constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.6, decay_type='stage_wise'),
    optimizer=dict(lr=6.25e-4 * 1024 / 256))
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
