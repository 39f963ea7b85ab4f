"""ConvMAE end to end through tools/train.py and tools/test.py on the demo configs (Mask R-CNN, UperNet,
ImageNet fine-tuning), and the entry configs' recipes."""
import pytest
from mmengine.config import Config

from helpers import ROOT, train_and_test

DEMO = ROOT / 'configs/demo'


def test_mask_rcnn_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'mask_rcnn_convmae_demo.py', tmp_path, synthetic_data)
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics


def test_upernet_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'upernet_convmae_demo.py', tmp_path, synthetic_data)
    assert 'mIoU' in metrics


@pytest.mark.slow  # 25-70 s; the same path runs in tests/test_demo.py (CI: under 20 min)
def test_classification_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'convmae_ft_demo.py', tmp_path, synthetic_data)
    assert 'accuracy/top1' in metrics


def test_entry_configs_follow_the_official_recipes():
    det = Config.fromfile(ROOT / 'configs/mask_rcnn_convmae_base_coco.py')
    bb = det.model.backbone
    assert (bb.type, bb.arch, bb.img_size, bb.window_size, tuple(bb.global_attn_indexes), bb.drop_path_rate) == (
        'mmconvmae.ConvMAEDet', 'base', 1024, 16, (0, 3, 6, 10), 0.1)
    assert det.model.neck.in_channels == [256, 384, 768, 768] and det.model.neck.norm_cfg.type == 'SyncBN'
    assert det.model.neck.num_outs == 5 and det.model.rpn_head.num_convs == 2
    assert det.model.roi_head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
    assert det.optim_wrapper.optimizer.lr == 8e-5 and det.optim_wrapper.optimizer.weight_decay == 0.1
    assert det.train_cfg.max_epochs == 25 and det.train_dataloader.batch_size * 8 == 32
    assert any(t.type == 'RandomResize' and t.ratio_range == (0.1, 2.0) and t.scale == (1024, 1024)
               for t in det.train_dataloader.dataset.pipeline)
    seg = Config.fromfile(ROOT / 'configs/upernet_convmae_base_ade20k.py')
    assert seg.model.backbone.rel_pos_bias == 'per_block' and seg.model.backbone.layer_scale_init_value == 1.0
    assert seg.model.backbone.downsample32 == 'conv' and seg.model.backbone.drop_path_rate == 0.2
    assert seg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75 and seg.train_cfg.max_iters == 160000
    assert seg.model.decode_head.in_channels == [256, 384, 768, 768] and seg.model.decode_head.channels == 768
    cls = Config.fromfile(ROOT / 'configs/convmae_base_ft_in1k.py')
    assert cls.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65 and cls.train_cfg.max_epochs == 100
    assert cls.optim_wrapper.optimizer.lr == pytest.approx(2e-3) and cls.model.backbone.drop_path_rate == 0.1
