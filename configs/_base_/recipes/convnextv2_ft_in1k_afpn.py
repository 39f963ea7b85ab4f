# The ConvNeXt V2 Atto / Femto / Pico / Nano IN-1K fine-tuning recipe (paper Table 9, the A/F/P/N column):
# blr 0.0002 (lr 0.0008 at batch 1024), wd 0.3 (0.05 for Femto, set in its config), `single` layer decay (one id
# per block: `layer_wise`) rate 0.9, 600 epochs of cosine decay without warm-up. Each model's config sets its drop
# path, label smoothing and mixup.
_base_ = './convnextv2_ft_in1k_224.py'

optim_wrapper = dict(
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='layer_wise'),
    optimizer=dict(lr=0.0002 * 1024 / 256, weight_decay=0.3))
param_scheduler = [  # no warm-up
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=0, end=600, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=600, val_interval=1)
