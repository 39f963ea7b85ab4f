# Conv2Former supervised ImageNet-1K training from scratch in mmpretrain (the official `train.py` defaults +
# `train.sh`), shared by `configs/conv2former_{arch}_in1k.py`: batch 1024 (8 GPUs x 128), AdamW lr 1e-3 at batch
# 1024, wd 0.05 with no decay on 1-D parameters (norms, biases, layer scales; timm `create_optimizer_v2`),
# 300 epochs with 5 warm-up epochs from 1e-6, cosine to 1e-6, RandAugment rand-m9-mstd0.5-inc1, random erasing
# 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1, layer scale 1e-6, no EMA, AMP; bicubic resize (the official
# uses a random interpolation). The per-arch configs set the arch, the drop path (a command-line argument of the
# official code whose per-variant values are unpublished) and the expected number.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../cls_train_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmconvmae.Conv2Former', arch='tiny', drop_path_rate=0.1, out_type='avg_featmap'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(batch_size=128)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(flat_decay_mult=0.0, norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=300, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
