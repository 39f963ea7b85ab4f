"""End to end through tools/train.py and tools/test.py on the Conv2Former demo configs."""
import pytest
from helpers import ROOT, train_and_test

DEMO = ROOT / 'configs/demo'


def test_mask_rcnn_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'mask_rcnn_conv2former_demo.py', tmp_path, synthetic_data)
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics


def test_upernet_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'upernet_conv2former_demo.py', tmp_path, synthetic_data)
    assert 'mIoU' in metrics


@pytest.mark.slow  # 25-70 s; the same path runs in tests/test_demo.py (CI: under 20 min)
def test_classification_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'conv2former_cls_demo.py', tmp_path, synthetic_data)
    assert 'accuracy/top1' in metrics
