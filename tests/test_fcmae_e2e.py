"""FCMAE end to end: the demo pretraining config through tools/train.py, and its checkpoint initialising the
backbones of the ConvNeXt V2 Mask R-CNN and UperNet demo configs through init_cfg."""
import json
import math

import pytest
import torch
from mmengine.config import Config

from helpers import ROOT, run_tool, short_run_options

DEMO = ROOT / 'configs/demo'


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory, synthetic_data):
    """Runs 3 iterations of the FCMAE demo; returns (checkpoint path, per-iteration losses)."""
    work_dir = tmp_path_factory.mktemp('fcmae_demo')
    run_tool('train.py', DEMO / 'fcmae_convnextv2_demo.py', '--work-dir', work_dir, '--cfg-options',
             *short_run_options(3), data_root=synthetic_data)
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert logs, f'no scalars log under {work_dir}'
    losses = [json.loads(line)['loss'] for line in logs[-1].read_text().splitlines() if '"loss"' in line]
    return work_dir / 'iter_3.pth', losses


def test_pretraining_demo_trains(pretrained):
    ckpt, losses = pretrained
    assert len(losses) == 3 and all(math.isfinite(v) and 0 < v < 10 for v in losses), losses
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert any(k.startswith('neck.decoder.0.') for k in state) and 'neck.mask_token' in state
    assert not any(k.startswith('backbone.norm') for k in state)


@pytest.mark.parametrize('config, scope', [('mask_rcnn_convnextv2_demo.py', 'mmdet'),
                                           ('upernet_convnextv2_demo.py', 'mmseg')])
def test_demo_checkpoint_initialises_det_and_seg_backbones(pretrained, config, scope):
    from mmengine.registry import DefaultScope
    ckpt, _ = pretrained
    cfg = Config.fromfile(DEMO / config)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
        model.init_weights()
    report = model.backbone.pretrained_report
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert report['unexpected'] == []
    # every encoder tensor comes from the pretraining run; only the det/seg output norms (no FCMAE encoder has
    # them, docs/convnext_v2.md#the-model) keep their LayerNorm init
    assert sorted(report['missing']) == sorted(f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias'))
    own = model.backbone.state_dict()
    assert len(report['loaded']) == len(own) - 8
    for name in report['loaded']:
        assert torch.equal(own[name], state['backbone.' + name]), name


def test_pretraining_config_follows_the_official_recipe():
    """docs/convnext_v2.md#recipes: AdamW 2.4e-3 (0.9, 0.95) wd 0.05 with only 1-D norm params and biases
    excluded (GRN gamma/beta and the mask token are decayed, as by timm 0.3.2's add_weight_decay), 40 warm-up +
    cosine to 800 epochs."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from mmconvmae.models.selfsup.fcmae import FCMAE
    cfg = Config.fromfile(ROOT / 'configs/pretrain/fcmae_convnextv2_base_800e_in1k.py')
    assert cfg.model.backbone.arch == 'base' and cfg.model.mask_ratio == 0.6 and cfg.model.neck.embed_dim == 512
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(2.4e-3)
    assert cfg.optim_wrapper.optimizer.betas == (0.9, 0.95) and cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.train_dataloader.batch_size * 64 == 4096 and cfg.train_cfg.max_epochs == 800
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 40), (40, 800)]
    crop = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomResizedCrop'][0]
    assert crop.scale == 224 and crop.crop_ratio_range == (0.2, 1.0) and crop.interpolation == 'bicubic'
    model = FCMAE(backbone=dict(arch='atto'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            decay[names[id(p)]] = group['weight_decay']
    assert len(decay) == len(names)
    assert decay['backbone.stages.0.0.grn.gamma'] == decay['neck.mask_token'] == 0.05
    assert decay['backbone.stages.0.0.pwconv1.weight'] == decay['backbone.downsample_layers.1.1.weight'] == 0.05
    assert decay['backbone.stages.0.0.norm.weight'] == decay['backbone.downsample_layers.1.0.weight'] == 0.0
    assert decay['backbone.stages.0.0.dwconv.bias'] == decay['neck.decoder.0.norm.bias'] == 0.0
