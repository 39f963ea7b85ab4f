# What every ImageNet classification recipe here shares (ConvNeXt V2 / ConvMAE / iTPN fine-tuning, Conv2Former from
# scratch): cls_runtime.py plus fp16 AdamW (betas 0.9/0.999, eps 1e-8, wd 0.05), a validation / test loop, a
# checkpoint every epoch keeping the last 3 and the best, and the global batch of 1024 that the lr refers to.
_base_ = './cls_runtime.py'

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05))
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'))
auto_scale_lr = dict(enable=False, base_batch_size=1024)
