"""Building blocks shared by the model families."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmconvmae.registry import MODELS


@MODELS.register_module('LN2d')
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dim of an NCHW tensor: (N, C, H, W) -> (N, C, H, W).

    Parameters are named ``weight``/``bias`` with shape (C,), like the channels-first LayerNorm of the
    official ConvNeXt V2 and ConvMAE code, so their checkpoints load as they are. Registered as ``LN2d`` for
    ``norm_cfg`` (``dict(type='mmconvmae.LN2d', eps=1e-6)`` is detectron2's ``"LN"`` of the ViTDet heads).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'LayerNorm2d expects an (N, C, H, W) tensor, got shape {tuple(x.shape)}')
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class GRN(nn.Module):
    """Global Response Normalization of ConvNeXt V2 on channels-last input (N, H, W, C).

    ``out = x + gamma * x * Nx + beta`` with ``Gx = ||x||_2`` over H, W and ``Nx = Gx / (mean_C(Gx) + eps)``.
    Statistics are always computed in fp32, also under autocast: the spatial sum of squares of post-GELU
    activations overflows fp16 (ConvNeXt-V2#66).

    ``gamma``/``beta`` have shape (C,). The official (1, 1, 1, C) and Minkowski (1, C) shapes are reshaped
    on load, so official checkpoints load without conversion.

    Args:
        dim: number of channels C.
        eps: added to the channel mean of Gx (official value 1e-6).
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor, visible: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (N, H, W, C). visible: optional (N, H, W, 1) with 1 at visible positions; masked positions are
        left out of Gx, as in the sparse (MinkowskiEngine) encoder. Returns (N, H, W, C) in x.dtype."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            xf = x.float()
            gx = torch.linalg.vector_norm(xf if visible is None else xf * visible.float(), dim=(1, 2), keepdim=True)
            nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
            out = torch.addcmul(self.beta.float(), self.gamma.float(), xf * nx) + xf
        return out.to(x.dtype)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ('gamma', 'beta'):
            key = prefix + name
            if key in state_dict and state_dict[key].dim() > 1 and state_dict[key].numel() == self.dim:
                state_dict[key] = state_dict[key].reshape(self.dim)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f'{self.dim}, eps={self.eps}'


def _fast_fft_size(n: int) -> int:
    """The smallest m >= n whose only prime factors are 2, 3 and 5 (fast FFT lengths)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def depthwise_weight_grad_fft(x: torch.Tensor, grad: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Weight gradient (C, 1, k, k) of a stride-1 depthwise conv with padding k // 2, from its input x and output
    gradient ``grad`` (both (N, C, H, W)), as an FFT cross-correlation computed in fp32:
    ``dW[c, i, j] = sum_{n, h, w} x[n, c, h + i - p, w + j - p] * grad[n, c, h, w]``."""
    p = kernel_size // 2
    h, w = x.shape[-2:]
    size = (_fast_fft_size(h + p), _fast_fft_size(w + p))  # >= H + p: no circular wrap-around for |shift| <= p
    xf = torch.fft.rfft2(x.float(), s=size)
    gf = torch.fft.rfft2(grad.float(), s=size)
    corr = torch.fft.irfft2((xf * gf.conj()).sum(0), s=size)  # (C, *size), corr[c, d] = sum_t x[t + d] g[t]
    rows = torch.arange(-p, p + 1, device=x.device)
    corr = corr[:, rows % size[0]][:, :, rows % size[1]]
    return corr.unsqueeze(1)


class _DepthwiseConvFFTWeightGrad(torch.autograd.Function):
    """Depthwise conv (stride 1, padding k // 2) with the backward computed as: input gradient = the same conv with
    the flipped kernel, weight gradient = :func:`depthwise_weight_grad_fft`, bias gradient = a sum."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        k = weight.shape[-1]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = F.conv2d(grad, weight.flip(-2, -1).to(grad.dtype), padding=k // 2, groups=x.shape[1])
        if ctx.needs_input_grad[1]:
            gw = depthwise_weight_grad_fft(x, grad, k).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum((0, 2, 3), dtype=torch.float32).to(weight.dtype)
        return gx, gw, gb


class DepthwiseConv2d(nn.Conv2d):
    """Depthwise k x k conv, stride 1, 'same' padding: (N, C, H, W) -> (N, C, H, W), any memory format.
    An ``nn.Conv2d`` (same parameters and state-dict keys) whose backward can avoid the slow native depthwise
    weight gradient of large kernels (on CPU oneDNN takes 10-60x the forward for 11x11).

    Args:
        channels: C.
        kernel_size: odd k.
        weight_grad: ``'fft'`` (FFT cross-correlation, fp32), ``'native'`` (PyTorch's), or ``'auto'``: ``fft`` for
            CPU tensors, ``native`` elsewhere (cuDNN; not measured here).
    """

    def __init__(self, channels: int, kernel_size: int, bias: bool = True, weight_grad: str = 'auto'):
        if kernel_size % 2 == 0:
            raise ValueError(f'DepthwiseConv2d needs an odd kernel_size, got {kernel_size}')
        if weight_grad not in ('auto', 'fft', 'native'):
            raise ValueError(f"weight_grad must be 'auto', 'fft' or 'native', got {weight_grad!r}")
        super().__init__(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, bias=bias)
        self.weight_grad = weight_grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = self.weight_grad
        if mode == 'auto':
            mode = 'fft' if x.device.type == 'cpu' else 'native'
        if mode == 'native' or not torch.is_grad_enabled():
            return super().forward(x)
        return _DepthwiseConvFFTWeightGrad.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', weight_grad={self.weight_grad}'
