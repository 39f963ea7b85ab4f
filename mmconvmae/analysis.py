"""Model analysis shared by ``tools/analysis/get_flops.py``, ``tools/analysis/benchmark.py`` and the tests that
keep the README tables in sync: build any entry config's model offline, count parameters and FLOPs."""
import copy
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config
from mmengine.registry import DefaultScope


def load_model(config: str, cfg_options: Optional[dict] = None) -> Tuple[Config, nn.Module]:
    """Builds the model of ``config`` in its own default scope (no weights are loaded: ``init_weights`` is not
    called, so nothing is downloaded)."""
    from mmconvmae.engine.launch import load_config
    cfg = load_config(config, cfg_options)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        from mmengine.registry import MODELS
        model = MODELS.build(copy.deepcopy(cfg.model))
    return cfg, model.eval()


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _sdpa_flop_jit(inputs, outputs) -> int:
    """FLOPs (multiply-adds) of ``scaled_dot_product_attention``: Q K^T and (softmax) V."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = 1
    for d in q[:-2]:
        batch *= d
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def count_flops(module: nn.Module, inputs) -> int:
    """Multiply-adds (the "FLOPs" of the papers) of ``module(*inputs)``, attention included."""
    analyzer = FlopAnalyzer(module, inputs if isinstance(inputs, tuple) else (inputs, ))
    analyzer.set_op_handle('aten::scaled_dot_product_attention', _sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())


class TensorModeWrapper(nn.Module):
    """Runs a whole mmdet / mmseg / mmpretrain model in ``mode='tensor'`` on an image batch (N, 3, H, W), with the
    minimal data samples each project needs (for FLOP counting and benchmarks)."""

    def __init__(self, model: nn.Module, scope: str):
        super().__init__()
        self.model, self.scope = model, scope

    def data_samples(self, inputs: torch.Tensor):
        n, _, h, w = inputs.shape
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w),
                    scale_factor=(1.0, 1.0))
        if self.scope == 'mmdet':
            from mmdet.structures import DetDataSample
            return [DetDataSample(metainfo=meta) for _ in range(n)]
        if self.scope == 'mmseg':
            from mmseg.structures import SegDataSample
            return [SegDataSample(metainfo=meta) for _ in range(n)]
        return None

    def forward(self, inputs: torch.Tensor):
        out = self.model(inputs, self.data_samples(inputs), mode='tensor')
        if isinstance(out, dict):
            out = tuple(out.values())
        return out


def analysis_target(cfg: Config, model: nn.Module, part: str) -> nn.Module:
    """``part``: ``backbone`` (the backbone alone), ``backbone+neck`` or ``model`` (everything, tensor mode)."""
    if part == 'backbone':
        return model.backbone
    if part == 'backbone+neck':
        return nn.Sequential(model.backbone, model.neck) if getattr(model, 'neck', None) is not None \
            else model.backbone
    if part == 'model':
        return TensorModeWrapper(model, cfg.default_scope)
    raise ValueError(f"part must be 'backbone', 'backbone+neck' or 'model', got {part!r}")


def default_input_shape(cfg: Config) -> Sequence[int]:
    """(H, W) at which the papers quote FLOPs: 1280x800 for COCO, 2048x512 for ADE20K, 224x224 otherwise."""
    if cfg.default_scope == 'mmdet':
        return (800, 1280)
    if cfg.default_scope == 'mmseg':
        return (512, 2048)
    return (224, 224)


# ---- timing and peak memory ----------------------------------------------------------------------------------
def _read_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def peak_memory_bytes(fn, device: str = 'cpu') -> int:
    """Extra memory at the peak of ``fn()`` over what was allocated before it.

    CUDA: ``torch.cuda.max_memory_allocated``. CPU: the resident-set high-water mark (``VmHWM``, reset through
    ``/proc/self/clear_refs``) minus the resident set before the call, after returning freed heap pages to the OS.
    Run CPU measurements with ``MALLOC_MMAP_THRESHOLD_=65536`` so that freed tensors leave the resident set
    (``tools/analysis/benchmark.py`` sets it).
    """
    import ctypes
    import gc
    gc.collect()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except OSError:
        pass
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current resident set
    base = _read_status_kib('VmRSS')
    fn()
    return (_read_status_kib('VmHWM') - base) * 1024


def make_step(module: nn.Module, inputs: torch.Tensor, mode: str, dtype: torch.dtype = torch.float32,
              compile: bool = False):
    """A closure running one ``forward`` (no grad) or ``train`` (forward + backward of the summed outputs) step,
    under autocast when ``dtype`` is not fp32; ``compile``: through ``torch.compile(module)`` (the first calls
    compile, so time after a warm-up)."""
    device = inputs.device.type
    run = torch.compile(module) if compile else module

    def outputs_sum(out):
        if isinstance(out, torch.Tensor):
            return out.float().sum()
        if isinstance(out, dict):
            out = list(out.values())
        return sum(outputs_sum(o) for o in out if isinstance(o, (torch.Tensor, list, tuple, dict)))

    def step():
        with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
            if mode == 'forward':
                with torch.no_grad():
                    run(inputs)
            else:
                outputs_sum(run(inputs)).backward()
        if mode == 'train':
            module.zero_grad(set_to_none=True)
        if device == 'cuda':
            torch.cuda.synchronize()

    return step


def interleaved_timings(steps: dict, warmup: int = 2, repeats: int = 10) -> dict:
    """Runs the named steps in turn (A, B, A, B, ...) after ``warmup`` rounds and returns, per name, the median
    and all the per-step times. Interleaving makes ratios robust to load that changes during the run."""
    import statistics
    import time
    for _ in range(warmup):
        for step in steps.values():
            step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: dict(median=statistics.median(t), times=t) for name, t in times.items()}
