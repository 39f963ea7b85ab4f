# ConvNeXt V2-B IN-22K intermediate fine-tuning (stage 1 of the paper's 22K recipe, Table 12): the FCMAE IN-1K encoder
# fine-tuned on ImageNet-22K (21841 classes) for 90 epochs with 5 warm-up epochs, batch 4096 (64 GPUs x 64), blr
# 2.5e-4 (lr 2.5e-3), `group` layer decay 0.8 (B/L/H; 0.9 for N/T), no EMA. The drop path of this stage is printed
# as 0 / 0.1 / 0.3 across sizes; 0.1 is our reading for B. Augmentation, weight decay and mixing as in the IN-1K
# fine-tuning (../_base_/recipes/convnextv2_ft_in1k.py). The official repo releases neither this stage's code nor
# its (21841-class) weights; its output initialises ./convnextv2_base_in22k-ft_in1k-384px.py.
_base_ = './_base_/recipes/convnextv2_ft_in1k_224.py'
checkpoint = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_base_1k_224_fcmae.pt'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(num_classes=21841),
    data_preprocessor=dict(num_classes=21841))
data_root = 'data/imagenet21k'
train_dataloader = dict(batch_size=64, dataset=dict(type='ImageNet21k', data_root=data_root, split='train'))
val_dataloader = dict(dataset=dict(type='ImageNet21k', data_root=data_root, split='val'))
test_dataloader = val_dataloader
optim_wrapper = dict(
    paramwise_cfg=dict(layer_decay_rate=0.8, decay_type='stage_wise'),
    optimizer=dict(lr=2.5e-4 * 4096 / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=90, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=10)
custom_hooks = []  # no EMA in the 22K stage
auto_scale_lr = dict(base_batch_size=4096)
