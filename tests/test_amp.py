"""Mixed precision: bf16 autocast numerics of every backbone family, ``mmconvmae.AutocastOptimWrapper`` and the
choice ``tools/train.py --amp`` makes on CPU / GPU; ``--compile`` through the CLI."""
import logging

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from helpers import ROOT, load_tool

from mmconvmae.engine import launch
from mmconvmae.engine.optimizers import amp
from mmconvmae.models.backbones.conv2former import Conv2Former
from mmconvmae.models.backbones.convmae import Attention as ConvMAEAttention
from mmconvmae.models.backbones.convmae import ConvMAE
from mmconvmae.models.backbones.convnext_v2 import ConvNeXtV2
from mmconvmae.models.backbones.hivit import Attention as HiViTAttention
from mmconvmae.models.backbones.hivit import HiViT
from mmconvmae.models.utils.layers import GRN

# bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2%); through a dozen residual blocks the outputs of
# the whole backbone stay within this relative L2 error of the fp32 outputs.
BF16_REL_TOL = 0.05

FAMILIES = {
    'convnextv2': lambda: ConvNeXtV2(dict(depths=[1, 1, 2, 1], dims=[16, 32, 64, 128]), out_indices=(0, 1, 2, 3),
                                     out_type='featmap'),
    'convmae': lambda: ConvMAE(dict(embed_dims=[32, 64, 128], depths=[1, 1, 2], num_heads=4), img_size=64,
                               norm_cfg=dict(type='BN')),
    'hivit': lambda: HiViT(dict(embed_dims=128, depths=[1, 1, 2], num_heads=4), img_size=64, rel_pos_bias='per_block'),
    'conv2former': lambda: Conv2Former(dict(depths=[1, 1, 2, 1], dims=[16, 32, 64, 128], kernel_size=7)),
}


def _outputs(out):
    return [out] if isinstance(out, torch.Tensor) else [t for o in out for t in _outputs(o)]


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_bf16_autocast_close_to_fp32_and_finite_on_large_inputs(family):
    torch.manual_seed(0)
    model = FAMILIES[family]().eval()
    for m in model.modules():  # non-zero GRN so that its statistics matter
        if isinstance(m, GRN):
            nn.init.normal_(m.gamma, std=0.5)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = _outputs(model(x))
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = _outputs(model(x))
            big = _outputs(model(x * 1e4))
    for r, o in zip(ref, out):
        assert o.dtype in (torch.bfloat16, torch.float32)
        rel = ((o.float() - r).norm() / r.norm()).item()
        assert rel < BF16_REL_TOL, f'{family}: relative error {rel:.3g} of bf16 vs fp32'
    assert all(torch.isfinite(b.float()).all() for b in big), f'{family}: non-finite bf16 output on large inputs'


@pytest.mark.parametrize('attention', [
    lambda: HiViTAttention(64, 4, rpe_size=4),
    lambda: ConvMAEAttention(64, 4),
])
def test_attention_softmax_safe_in_bf16(attention):
    """Logits of order 1e4: the softmax (in scaled_dot_product_attention) must neither overflow nor give NaN."""
    torch.manual_seed(0)
    attn = attention().eval()
    with torch.no_grad():
        attn.qkv.weight.mul_(50)
    x = torch.randn(2, 16, 64) * 10
    kwargs = dict(rpe_index=torch.randint(0, 49, (16, 16))) if isinstance(attn, HiViTAttention) else {}
    with torch.no_grad():
        ref = attn(x, **kwargs)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = attn(x, **kwargs)
    # finite (no overflow to inf / NaN in the softmax); not compared closely: logits of 1e4 rounded to bf16 (8 bits)
    # move by ~30, which flips near-ties of a near one-hot softmax
    assert torch.isfinite(out.float()).all() and out.abs().amax() <= ref.abs().amax() * 1.1


def test_autocast_optim_wrapper_runs_forward_in_bf16():
    model = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 1))
    wrapper = amp.AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    before = model[0].weight.detach().clone()
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == torch.bfloat16
        out = model(torch.randn(4, 8))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().square().mean())
    assert model[0].weight.dtype == torch.float32 and not torch.equal(model[0].weight, before)
    with pytest.raises(ValueError, match='bfloat16 only'):
        amp.AutocastOptimWrapper(dtype='float16', optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def _cfg():
    return Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)),
                       val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop')))


@pytest.fixture
def cpu_only(monkeypatch):
    import mmengine.device as device
    for name in ('is_cuda_available', 'is_npu_available', 'is_mlu_available'):
        monkeypatch.setattr(device, name, lambda: False)


def test_amp_on_cpu_picks_bf16_where_native(cpu_only, monkeypatch):
    monkeypatch.setattr(amp, 'cpu_bf16_support', lambda: 'amx_bf16')
    cfg = _cfg()
    assert launch.enable_amp(cfg) == 'bfloat16'
    assert cfg.optim_wrapper.type == 'mmconvmae.AutocastOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.val_cfg.fp16 and cfg.test_cfg.fp16  # mmengine's loops autocast to bf16 on CPU


def test_amp_on_cpu_without_bf16_falls_back_to_fp32(cpu_only, monkeypatch, caplog):
    from mmengine.logging import MMLogger
    monkeypatch.setattr(amp, 'cpu_bf16_support', lambda: None)
    cfg = _cfg()
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            assert launch.enable_amp(cfg) is None
    finally:
        logger.removeHandler(caplog.handler)
    assert cfg.optim_wrapper.type == 'OptimWrapper' and 'fp16' not in cfg.val_cfg
    assert sum('no native bf16' in r.getMessage() for r in caplog.records) == 1
    # an explicit dtype forces (emulated) bf16; float16 has no CPU path
    assert launch.enable_amp(cfg, 'bfloat16') == 'bfloat16'
    assert cfg.optim_wrapper.type == 'mmconvmae.AutocastOptimWrapper'
    with pytest.raises(RuntimeError, match='float16 needs a GPU'):
        launch.enable_amp(_cfg(), 'float16')


def test_amp_on_gpu_keeps_mmengine_amp_optim_wrapper(monkeypatch):
    import mmengine.device as device
    monkeypatch.setattr(device, 'is_cuda_available', lambda: True)
    cfg = _cfg()
    assert launch.enable_amp(cfg, 'bfloat16') == 'bfloat16'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic' and 'fp16' not in cfg.val_cfg
    cfg = _cfg()
    assert launch.enable_amp(cfg) == 'float16' and cfg.val_cfg.fp16


def test_enable_compile_sets_mmengine_compile_option():
    cfg = Config(dict())
    launch.enable_compile(cfg)
    assert cfg.compile is True
    cfg = Config(dict(compile=dict(backend='inductor')))
    launch.enable_compile(cfg, 'max-autotune')
    assert cfg.compile == dict(backend='inductor', mode='max-autotune')


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path: runs where no GPU is visible')
def test_train_cli_amp_trains_demo_in_bf16_on_cpu(tmp_path, synthetic_data, cpu_only, monkeypatch):
    """``tools/train.py CONFIG --amp --amp-dtype bfloat16`` on a CPU-only machine: the optimizer wrapper autocasts
    the backbone's forward to bf16, and the loss is finite. (``--amp-dtype bfloat16`` forces bf16 also where the
    CPU has no native bf16, so the test runs everywhere; the automatic choice is tested above.)"""
    from helpers import short_run_options
    train = load_tool('train')
    seen = []

    def build_runner(cfg):
        runner = launch.build_runner(cfg)
        runner.model.backbone.register_forward_hook(
            lambda m, args, out: seen.append((torch.is_autocast_enabled('cpu'), torch.get_autocast_dtype('cpu'),
                                              m.training)))
        return runner

    monkeypatch.setattr(train, 'build_runner', build_runner)
    monkeypatch.setenv('MMCONVMAE_DATA', str(synthetic_data))
    runner = train.main([str(ROOT / 'configs/demo/convnextv2_ft_demo.py'), '--amp', '--amp-dtype', 'bfloat16',
                         '--work-dir', str(tmp_path), '--cfg-options', *short_run_options(2)])
    assert isinstance(runner.optim_wrapper, amp.AutocastOptimWrapper)
    assert runner.optim_wrapper.cast_dtype == torch.bfloat16
    train_calls = [s for s in seen if s[2]]
    assert len(train_calls) == 2 and all(s[:2] == (True, torch.bfloat16) for s in train_calls)
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert torch.isfinite(torch.tensor(loss)), loss


@pytest.mark.slow
def test_train_and_test_cli_compile(tmp_path, synthetic_data):
    """``--compile``: the demo trains through ``torch.compile``d ``train_step`` and tests through a compiled
    ``test_step`` (about a minute of compilation on 2 cores)."""
    from helpers import read_last_metrics, run_tool, short_run_options
    config = 'configs/demo/convnextv2_ft_demo.py'
    proc = run_tool('train.py', config, '--compile', '--work-dir', tmp_path, '--cfg-options', *short_run_options(2),
                    data_root=synthetic_data)
    assert 'Model has been "compiled"' in proc.stdout + proc.stderr
    log = [line for line in (tmp_path.glob('*/vis_data/scalars.json')) for line in line.read_text().splitlines()]
    losses = [__import__('json').loads(line)['loss'] for line in log if '"loss"' in line]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    run_tool('test.py', config, tmp_path / 'iter_2.pth', '--compile', '--work-dir', tmp_path / 'test',
             data_root=synthetic_data)
    assert 'accuracy/top1' in read_last_metrics(tmp_path / 'test')


def test_benchmark_rows_parse_and_cover_every_mode():
    """Every comparison of tools/analysis/run_benchmarks.py is a valid benchmark.py command line, and the
    precision / compilation rows exist for the four families (bf16 and compiled on both sides vs mmpretrain)."""
    import sys

    sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
    try:
        benchmark, run_benchmarks = load_tool('analysis/benchmark'), load_tool('analysis/run_benchmarks')
    finally:
        sys.path.remove(str(ROOT / 'tools' / 'analysis'))
    run_benchmarks._optional_comparisons()
    for key, (_, script, args) in run_benchmarks.COMPARISONS.items():
        if script == 'benchmark.py':
            parsed = benchmark.parse_args(args)
            assert (ROOT / parsed.config).is_file(), key
    keys = set(run_benchmarks.COMPARISONS)
    for family in ('convnextv2', 'hivit', 'convmae_det', 'conv2former'):
        assert {f'mode_{family}_bf16_vs_fp32', f'mode_{family}_compiled_vs_eager'} <= keys
    for family in ('convnextv2', 'hivit'):
        args = run_benchmarks.COMPARISONS[f'mode_{family}_vs_mmpretrain_bf16_compiled'][2]
        parsed = benchmark.parse_args(args)
        assert parsed.dtype == parsed.reference_dtype == 'bf16' and parsed.compile and parsed.reference_compile
