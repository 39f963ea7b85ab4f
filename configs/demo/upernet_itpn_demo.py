# CPU demo twin of ../upernet_itpn_base_ade20k.py: synthetic ADE20K-layout data (4 classes), the tiny demo HiViT +
# pyramid ('concat' outputs: 80/96/128/128 ch; initialise both from the iTPN pretraining demo with init_cfg
# prefixes 'backbone.' / 'neck.'), 128x128 crops, 64-channel heads with BN, fp32, 200 iterations.
_base_ = ['../upernet_itpn_base_ade20k.py', '../_base_/demo/synthetic_ade.py', '../_base_/demo/itpn_demo_model.py']

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(arch={{_base_.itpn_demo.arch}}, img_size={{_base_.itpn_demo.img_size}}, drop_path_rate=0.0,
                  with_cp=False, init_cfg=None),
    neck=dict(in_channels=64, fpn_dim={{_base_.itpn_demo.fpn_dim}}, init_cfg=None),
    data_preprocessor={{_base_.demo_upernet.data_preprocessor}},
    decode_head=dict(in_channels=[80, 96, 128, 128], channels=64, num_classes=4, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=4, norm_cfg=norm_cfg),
    test_cfg={{_base_.demo_upernet.test_cfg}})

train_dataloader = {{_base_.synthetic_ade.train_dataloader}}
val_dataloader = {{_base_.synthetic_ade.val_dataloader}}
test_dataloader = {{_base_.synthetic_ade.val_dataloader}}
val_evaluator = {{_base_.synthetic_ade.evaluator}}
test_evaluator = {{_base_.synthetic_ade.evaluator}}

optim_wrapper = dict(type='OptimWrapper', _delete_=True, optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.9**(13 / 6), num_layers=4, no_decay_keywords=()))
train_cfg = {{_base_.demo_seg_schedule.train_cfg}}
param_scheduler = {{_base_.demo_seg_schedule.param_scheduler}}
default_hooks = {{_base_.demo_seg_schedule.default_hooks}}
randomness = {{_base_.demo_randomness}}
