"""tools/analysis/fit_probe.py: the fixed-batch probe of docs/convmae.md ("Main demo") runs on a demo config, its
diagnostic patch-norm swap reaches the ConvMAE patch embeddings, and other backbones get a clear error."""
import math

import pytest

from helpers import ROOT, load_tool


fit_probe = load_tool('analysis/fit_probe')


def test_probe_trains_the_demo_detector_on_one_batch(synthetic_data, monkeypatch, capsys):
    monkeypatch.setenv('MMCONVMAE_DATA', str(synthetic_data))
    loss = fit_probe.main([str(ROOT / 'configs/demo/mask_rcnn_convmae_demo.py'), '--steps', '2', '--every', '2',
                           '--batch-size', '2', '--patch-norm', 'none'])
    assert math.isfinite(loss)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith('step ')]
    assert [line.split(':')[0] for line in lines] == ['step 1', 'step 2']
    assert 'loss_rpn_cls=' in lines[0] and 'loss_mask=' in lines[0]


def test_patch_norm_swap_needs_a_convmae_backbone(synthetic_data, monkeypatch):
    monkeypatch.setenv('MMCONVMAE_DATA', str(synthetic_data))
    with pytest.raises(ValueError, match='--patch-norm needs a ConvMAE backbone, got Conv2Former'):
        fit_probe.main([str(ROOT / 'configs/demo/mask_rcnn_conv2former_demo.py'), '--steps', '1',
                        '--patch-norm', 'bn'])
