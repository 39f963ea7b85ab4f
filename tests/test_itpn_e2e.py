"""iTPN end to end: the pixel and CLIP pretraining demos through tools/train.py, one pretraining checkpoint filling
backbone AND neck of the Mask R-CNN and UperNet demo models (the point of iTPN), the det / seg / fine-tuning demos
through tools/train.py + tools/test.py, and the entry configs' recipes."""
import json
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from helpers import ROOT, run_tool, short_run_options, train_and_test

DEMO = ROOT / 'configs/demo'


def _losses(work_dir):
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert logs, f'no scalars log under {work_dir}'
    return [json.loads(line)['loss'] for line in logs[-1].read_text().splitlines() if '"loss"' in line]


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory, synthetic_data):
    """3 iterations of the pixel pretraining demo; returns (checkpoint, losses)."""
    work_dir = tmp_path_factory.mktemp('itpn_pixel_demo')
    run_tool('train.py', DEMO / 'itpn_pixel_demo.py', '--work-dir', work_dir, '--cfg-options', *short_run_options(3),
             data_root=synthetic_data)
    return work_dir / 'iter_3.pth', _losses(work_dir)


def test_pixel_pretraining_demo_trains(pretrained):
    ckpt, losses = pretrained
    assert len(losses) == 3 and all(math.isfinite(v) and 0 < v < 10 for v in losses), losses
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert 'neck.block_8to4.1.mlp.fc2.weight' in state and 'head.decoder_pred.weight' in state
    assert 'backbone.absolute_pos_embed' in state and not any(k.startswith('backbone.fc_norm') for k in state)


@pytest.fixture(scope='module')
def clip_pretrained(tmp_path_factory, synthetic_data):
    """2 iterations of the CLIP-target pretraining demo (random-init teacher); returns (checkpoint, losses)."""
    work_dir = tmp_path_factory.mktemp('itpn_clip_demo')
    run_tool('train.py', DEMO / 'itpn_clip_demo.py', '--work-dir', work_dir, '--cfg-options', *short_run_options(2),
             data_root=synthetic_data)
    return work_dir / 'iter_2.pth', _losses(work_dir)


def test_clip_pretraining_demo_trains(clip_pretrained):
    ckpt, losses = clip_pretrained
    assert len(losses) == 2 and all(math.isfinite(v) and v > 0 for v in losses), losses
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert 'backbone.mask_token' in state and 'head.lm_cls_head.weight' in state
    assert 'backbone.blocks.4.attn.relative_position_bias_table' in state


def test_clip_checkpoint_fills_a_layer_scale_detector(clip_pretrained):
    """CLIP-pretrained weights downstream (official det CLIP configs: layer scale 0.1, fpn_depth 1, no rpe):
    nothing missing; only the pretraining-only mask token and rpe tables are left out (the latter reported)."""
    from mmdet.registry import MODELS
    ckpt, _ = clip_pretrained
    cfg = Config.fromfile(DEMO / 'mask_rcnn_itpn_demo.py')
    cfg.model.backbone.update(layer_scale_init_value=0.1, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                                                                         prefix='backbone.'))
    cfg.model.neck.update(fpn_depth=1, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='neck.'))
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    for part in ('backbone', 'neck'):
        report = getattr(model, part).pretrained_report
        assert report['missing'] == [] and report['unexpected'] == [], (part, report)
    assert len(model.backbone.pretrained_report['loaded']) == len(model.backbone.state_dict())


@pytest.mark.parametrize('config, scope', [('mask_rcnn_itpn_demo.py', 'mmdet'), ('upernet_itpn_demo.py', 'mmseg')])
def test_pretraining_checkpoint_fills_backbone_and_neck(pretrained, config, scope):
    """The feature: nothing between backbone and heads starts from random weights downstream."""
    ckpt, _ = pretrained
    cfg = Config.fromfile(DEMO / config)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')
    cfg.model.neck.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt), prefix='neck.')
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
        model.init_weights()
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    for part in ('backbone', 'neck'):
        module = getattr(model, part)
        report = module.pretrained_report
        assert report['missing'] == [] and report['unexpected'] == [], (part, report)
        own = module.state_dict()
        assert len(report['loaded']) == len(own) == len([k for k in state if k.startswith(part + '.')])
        for name in report['loaded']:
            assert torch.equal(own[name], state[f'{part}.{name}']), name
        print(f'{config}: {part} loaded {len(report["loaded"])}/{len(own)} tensors from the pretraining demo')


def test_pretraining_checkpoint_initialises_the_classifier(pretrained):
    from mmpretrain.registry import MODELS
    ckpt, _ = pretrained
    cfg = Config.fromfile(DEMO / 'itpn_ft_demo.py')
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    report = model.backbone.pretrained_report
    # only what fine-tuning adds: relative position tables (official recipe) and fc_norm
    assert sorted(report['missing']) == sorted(['blocks.4.attn.relative_position_bias_table',
                                                'blocks.5.attn.relative_position_bias_table', 'fc_norm.weight',
                                                'fc_norm.bias'])
    assert report['unexpected'] == []


def test_mask_rcnn_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'mask_rcnn_itpn_demo.py', tmp_path, synthetic_data)
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics


def test_upernet_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'upernet_itpn_demo.py', tmp_path, synthetic_data)
    assert 'mIoU' in metrics


@pytest.mark.slow  # 25-70 s; the same path runs in tests/test_demo.py (CI: under 20 min)
def test_classification_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'itpn_ft_demo.py', tmp_path, synthetic_data)
    assert 'accuracy/top1' in metrics


def test_entry_configs_follow_the_official_recipes():
    """Recipes of the official pretraining, det, seg and fine-tuning scripts (docs/itpn.md#what-is-official)."""
    pix = Config.fromfile(ROOT / 'configs/pretrain/itpn_pixel_base_1600e_in1k.py')
    assert (pix.model.mask_ratio, pix.model.neck.fpn_depth, pix.model.head.decoder_depth,
            pix.model.head.decoder_num_heads, pix.model.head.norm_pix) == (0.75, 2, 8, 16, True)
    assert pix.optim_wrapper.optimizer.lr == pytest.approx(2.4e-3) and pix.optim_wrapper.optimizer.betas == (0.9, 0.95)
    assert pix.train_cfg.max_epochs == 1600 and pix.param_scheduler[0].end == 40
    clip = Config.fromfile(ROOT / 'configs/pretrain/itpn_clip_base_300e_in1k.py')
    bb = clip.model.backbone
    assert (bb.rel_pos_bias, bb.layer_scale_init_value, bb.mask_token) == ('per_block', 0.1, True)
    assert bb.drop_path_rate == 0.1
    assert clip.model.neck.fpn_depth == 1
    assert clip.model.target_generator.checkpoint.endswith('clip_vit_base_16.pth.tar')
    assert clip.optim_wrapper.optimizer.lr == 1.5e-3 and clip.optim_wrapper.optimizer.betas == (0.9, 0.98)
    assert any(t.type == 'BEiTMaskGenerator' and t.num_masking_patches == 75
               for t in clip.train_dataloader.dataset.pipeline)
    det = Config.fromfile(ROOT / 'configs/mask_rcnn_itpn_base_coco_1x.py')
    assert det.model.neck.type == 'mmconvmae.iTPNPyramid' and det.model.neck.num_outs == 5
    assert det.model.backbone.init_cfg.prefix == 'backbone.' and det.model.neck.init_cfg.prefix == 'neck.'
    assert det.model.backbone.init_cfg.checkpoint == det.model.neck.init_cfg.checkpoint
    assert det.model.roi_head.bbox_head.loss_bbox.type == 'GIoULoss' and det.model.roi_head.bbox_head.reg_decoded_bbox
    assert det.optim_wrapper.optimizer.lr == 2e-4 and det.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.9
    assert det.model.backbone.drop_path_rate == 0.05 and det.train_cfg.max_epochs == 12
    det3 = Config.fromfile(ROOT / 'configs/mask_rcnn_itpn_base_coco_3x.py')
    assert (det3.optim_wrapper.optimizer.lr, det3.model.backbone.drop_path_rate, det3.train_cfg.max_epochs) == (
        1.5e-4, 0.3, 36)
    seg = Config.fromfile(ROOT / 'configs/upernet_itpn_base_ade20k.py')
    assert seg.model.neck.out_type == 'concat' and seg.model.decode_head.in_channels == [384, 512, 768, 768]
    assert seg.optim_wrapper.optimizer.lr == 3e-5 and seg.train_cfg.max_iters == 160000
    assert seg.optim_wrapper.paramwise_cfg.layer_decay_rate == pytest.approx(0.9**(13 / 32))
    cls = Config.fromfile(ROOT / 'configs/itpn_base_ft_in1k.py')
    assert cls.optim_wrapper.optimizer.lr == pytest.approx(1.6e-3) and cls.model.backbone.drop_path_rate == 0.15
    assert cls.train_cfg.max_epochs == 100 and cls.model.backbone.out_type == 'avg_featmap'
