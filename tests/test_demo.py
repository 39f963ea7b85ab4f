"""tools/demo.sh end to end, one config per task (a few iterations on the tiny synthetic data): exit code 0, a
non-empty report picture and the task's numbers in demo_summary.txt; a missing config is a loud error."""
import os
import subprocess
import sys

import cv2
import pytest

from helpers import ROOT, load_tool


def run_demo(config, work_dir, data_root, *extra, timeout=900):
    env = dict(os.environ, MMCONVMAE_SKIP_SETUP='1', MMCONVMAE_PYTHON=sys.executable, WORK_DIR=str(work_dir))
    if data_root is not None:
        env['MMCONVMAE_DATA'] = str(data_root)
    return subprocess.run(['bash', str(ROOT / 'tools/demo.sh'), str(config), *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_missing_config_is_a_loud_error(tmp_path):
    proc = run_demo('configs/demo/mask_rcnn_convmea_demo.py', tmp_path / 'w', None)
    assert proc.returncode == 2
    assert "config file 'configs/demo/mask_rcnn_convmea_demo.py' does not exist" in proc.stderr
    assert 'configs/demo/mask_rcnn_convmae_demo.py' in proc.stderr  # the list of demo configs
    assert not (tmp_path / 'w').exists()  # nothing was trained


@pytest.mark.parametrize('config, task, numbers', [
    ('mask_rcnn_convmae_demo.py', 'detection', ['coco/bbox_mAP=', 'coco/segm_mAP=', 'validation images with a '
                                                'drawn box']),
    ('upernet_convmae_demo.py', 'segmentation', ['mIoU=']),
    ('conv2former_cls_demo.py', 'classification', ['accuracy/top1=']),
    ('convmae_pretrain_demo.py', 'pretraining', ['training loss:']),
])
def test_demo_writes_the_report_of_its_task(tmp_path, synthetic_data, config, task, numbers):
    work_dir = tmp_path / 'demo'
    proc = run_demo(ROOT / 'configs/demo' / config, work_dir, synthetic_data, '--cfg-options',
                    'train_cfg.max_iters=3', 'default_hooks.checkpoint.interval=3')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'Config:' not in proc.stdout  # the config dump stays in the work dir
    assert (work_dir / config).is_file()
    summary = (work_dir / 'demo_summary.txt').read_text()
    assert f'task: {task}' in summary
    for number in numbers:
        assert number in summary, summary
    picture = cv2.imread(str(work_dir / 'report.png'))
    assert picture is not None and picture.shape[0] > 100 and picture.shape[1] > 100
    assert picture.std() > 5  # not a blank canvas
    assert f'picture: {work_dir}/report.png' in proc.stdout


def test_pretraining_report_reads_the_crop_side_of_each_crop_transform():
    demo_report = load_tool('analysis/demo_report')
    load = dict(type='LoadImageFromFile')
    # iTPN CLIP: `scale` is an area range there, `size` the side (was read as int(0.2) = 0 -> AssertionError)
    assert demo_report._crop_size([load, dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=64,
                                              second_size=64, scale=(0.2, 1.0))]) == 64
    assert demo_report._crop_size([load, dict(type='RandomResizedCrop', scale=128, crop_ratio_range=(0.2, 1.))]) == 128
    assert demo_report._crop_size([load, dict(type='RandomCrop', crop_size=(96, 96))]) == 96
    assert demo_report._crop_size([load, dict(type='Resize', scale=(100, 100))]) == 224  # no crop: the default
