"""bf16 mixed precision without a GPU: an optimizer wrapper that runs the forward pass under ``torch.autocast``.

mmengine's ``AmpOptimWrapper`` asserts a CUDA / NPU / MLU device (its ``GradScaler`` is a CUDA one), so a CPU run
could not use mixed precision at all. bf16 has the exponent range of fp32, so no loss scaling is needed: the
wrapper only enters ``torch.autocast(device_type, dtype=torch.bfloat16)`` in ``optim_context`` (the context
mmengine's ``BaseModel.train_step`` runs the forward and the loss in); backward and the optimizer step stay as
in :class:`mmengine.optim.OptimWrapper`, on fp32 master weights.
"""
import re
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from mmconvmae.registry import OPTIM_WRAPPERS

CPU_BF16_FLAGS = ('amx_bf16', 'avx512_bf16')


def cpu_bf16_support() -> Optional[str]:
    """The native bf16 instruction set of this CPU (``'amx_bf16'`` or ``'avx512_bf16'``), or ``None`` when bf16 would
    be emulated in fp32 (then autocast to bf16 is usually slower than fp32 on the CPU)."""
    checks = dict(amx_bf16=getattr(torch.cpu, '_is_amx_tile_supported', None),
                  avx512_bf16=getattr(torch.cpu, '_is_avx512_bf16_supported', None))
    for flag, check in checks.items():
        if check is not None and check():
            return flag
    try:  # torch builds without the checks: the kernel's flags
        with open('/proc/cpuinfo') as f:
            flags = set(next((line for line in f if line.startswith('flags')), '').split())
    except OSError:
        return None
    return next((flag for flag in CPU_BF16_FLAGS if flag in flags), None)


def cpu_instruction_set() -> str:
    """One line for logs and benchmark headers, e.g. ``'AVX512 (torch kernels), amx_bf16, avx512_bf16'``."""
    capability = torch.backends.cpu.get_cpu_capability()
    try:
        with open('/proc/cpuinfo') as f:
            flags = set(next((line for line in f if line.startswith('flags')), '').split())
    except OSError:
        flags = set()
    extra = sorted(f for f in flags if re.fullmatch(r'amx_\w+|avx512_(bf16|fp16|vnni)|avx512f|avx_vnni', f))
    return ', '.join([f'{capability} (torch kernels)'] + (extra or ['no AVX-512 / AMX']))


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward pass runs under ``torch.autocast`` to bf16, with no loss scaling.

    ``tools/train.py --amp`` chooses it on a machine without a GPU whose CPU computes bf16 natively
    (:func:`cpu_bf16_support`); mmengine's ``AmpOptimWrapper`` (fp16 / bf16 with a ``GradScaler``) stays the choice
    on GPUs. Usable on a GPU too (bf16 without a scaler).

    Args:
        dtype: autocast dtype; only ``'bfloat16'`` (fp16 needs loss scaling: use ``AmpOptimWrapper`` on a GPU).
        device_type: ``'cpu'`` or ``'cuda'``; by default the device of the model's first parameter.
        **kwargs: passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', device_type: Optional[str] = None, **kwargs):
        dtype = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
        if dtype is not torch.bfloat16:
            raise ValueError(f'AutocastOptimWrapper supports dtype bfloat16 only, got {dtype!r} (float16 needs '
                             'loss scaling: AmpOptimWrapper on a GPU)')
        if device_type not in (None, 'cpu', 'cuda'):
            raise ValueError(f"device_type must be 'cpu', 'cuda' or None, got {device_type!r}")
        super().__init__(**kwargs)
        self.cast_dtype = dtype
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module):
        device_type = self.device_type
        if device_type is None:
            param = next(model.parameters(), None)
            device_type = 'cpu' if param is None else param.device.type
        with super().optim_context(model), torch.autocast(device_type=device_type, dtype=self.cast_dtype):
            yield

