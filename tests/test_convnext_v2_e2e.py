"""End to end through tools/train.py and tools/test.py on the ConvNeXt V2 demo configs, and exact resume."""
import pytest
import torch

from helpers import ROOT, run_tool, short_run_options, train_and_test

DEMO = ROOT / 'configs/demo'


def test_mask_rcnn_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'mask_rcnn_convnextv2_demo.py', tmp_path, synthetic_data)
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics


@pytest.mark.slow  # 25-70 s; the same path runs in tests/test_demo.py (CI: under 20 min)
def test_upernet_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'upernet_convnextv2_demo.py', tmp_path, synthetic_data)
    assert 'mIoU' in metrics


@pytest.mark.slow  # 25-70 s; the same path runs in tests/test_demo.py (CI: under 20 min)
def test_classification_demo_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(DEMO / 'convnextv2_ft_demo.py', tmp_path, synthetic_data)
    assert 'accuracy/top1' in metrics


@pytest.mark.slow  # 70 s; resume from a checkpoint stays covered by tests/test_distributed.py (CI: under 20 min)
def test_resume_continues_exactly(tmp_path, synthetic_data):
    """A run stopped at iteration 2 and resumed to 4 ends with the weights of an uninterrupted 4-iteration run
    (random augmentation, RoI sampling and the optimizer state included; torch.load weights_only default)."""
    config = DEMO / 'mask_rcnn_convnextv2_demo.py'
    common = ['randomness.seed=0', 'default_hooks.checkpoint.interval=2']
    full, part = tmp_path / 'full', tmp_path / 'part'
    run_tool('train.py', config, '--work-dir', full, '--cfg-options', *short_run_options(4), *common,
             data_root=synthetic_data)
    run_tool('train.py', config, '--work-dir', part, '--cfg-options', *short_run_options(2), *common,
             data_root=synthetic_data)
    run_tool('train.py', config, '--work-dir', part, '--resume', part / 'iter_2.pth', '--cfg-options',
             *short_run_options(4), *common, data_root=synthetic_data)
    a = torch.load(full / 'iter_4.pth', map_location='cpu', weights_only=False)['state_dict']
    b = torch.load(part / 'iter_4.pth', map_location='cpu', weights_only=False)['state_dict']
    assert a.keys() == b.keys()
    changed = [k for k in a if not torch.equal(a[k], b[k])]
    assert not changed, f'{len(changed)} tensors differ, e.g. {changed[:5]}'
    first = torch.load(part / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    assert any(not torch.equal(first[k], a[k]) for k in a)  # iterations 3-4 did train
