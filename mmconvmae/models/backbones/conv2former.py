"""Conv2Former (Hou et al., TPAMI 2024): a transformer-style ConvNet with convolutional modulation.

The module tree and parameter names are those of the official release (HVision-NKU/Conv2Former
``models/conv2former.py``): ``downsample_layers.0`` is the 3-conv BatchNorm stem, ``downsample_layers.{1,2,3}`` are
LayerNorm + 2x2 stride-2 convs, and every block is ``stages.i.j.{layer_scale_1, layer_scale_2, attn.{norm, att.0,
att.2, v, proj}, mlp.{norm, fc1, pos, fc2}}``; the classifier's 1280-d pre-logits block is ``head.{0,2}``. Official
checkpoints (timm ``.pth.tar`` files with a pickled ``args``) therefore load through ``init_cfg`` as they are;
:mod:`mmconvmae.models.convert.conv2former` drops the classifier ``pred`` (and ``head`` for dense backbones) and
renames the 2022 gist's ``attn.a.*``.

Speed: the blocks run on channels-last tensors, and on CPU the k x k depthwise convs compute their weight gradient
by FFT (:class:`~mmconvmae.models.utils.DepthwiseConv2d`); ``channels_last=False, dw_weight_grad='native'`` runs
the official NCHW ops instead (same outputs up to float rounding; docs/conv2former.md has the measurements).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath

from mmconvmae.registry import MODELS
from ..convert.conv2former import convert_conv2former_official
from ..utils.base import resolve_out_type
from ..utils.convnet import ConvNetBackbone
from ..utils.layers import DepthwiseConv2d, LayerNorm2d


def _norm(x: torch.Tensor, norm: nn.LayerNorm, channels_last: bool) -> torch.Tensor:
    """LayerNorm over C of (N, H, W, C) or, channels first, of (N, C, H, W)."""
    return norm(x) if channels_last else norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _pointwise(x: torch.Tensor, conv: nn.Conv2d, channels_last: bool) -> torch.Tensor:
    """A 1x1 ``conv``; channels last it runs as a Linear on (N, H, W, C_in) -> (N, H, W, C_out)."""
    return F.linear(x, conv.weight.flatten(1), conv.bias) if channels_last else conv(x)


def _depthwise(x: torch.Tensor, conv: nn.Conv2d, channels_last: bool) -> torch.Tensor:
    """A depthwise ``conv``; channels last it runs on the channels_last-strided NCHW view of (N, H, W, C)."""
    return conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1) if channels_last else conv(x)


class ConvMod(nn.Module):
    """Convolutional modulation (official ``SpatialAttention``): ``proj(att(LN(x)) * v(LN(x)))`` with
    ``att`` = 1x1 conv -> GELU -> kxk depthwise conv. (N, H, W, C) -> (N, H, W, C), or (N, C, H, W) channels
    first."""

    def __init__(self, dim: int, kernel_size: int, dw_weight_grad: str = 'auto'):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.att = nn.Sequential(
            nn.Conv2d(dim, dim, 1), nn.GELU(), DepthwiseConv2d(dim, kernel_size, weight_grad=dw_weight_grad))
        self.v = nn.Conv2d(dim, dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
        x = _norm(x, self.norm, channels_last)
        a = _depthwise(F.gelu(_pointwise(x, self.att[0], channels_last)), self.att[2], channels_last)
        return _pointwise(a * _pointwise(x, self.v, channels_last), self.proj, channels_last)


class ConvMlp(nn.Module):
    """Official ``MLP``: LN -> 1x1 (C -> rC) -> GELU -> x + GELU(3x3 depthwise ``pos``(x)) -> 1x1 (rC -> C).
    (N, H, W, C) -> (N, H, W, C), or channels first. The ``pos`` conv is in the code, not in the paper."""

    def __init__(self, dim: int, mlp_ratio: int = 4):
        super().__init__()
        hidden = dim * mlp_ratio
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.pos = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
        x = self.act(_pointwise(_norm(x, self.norm, channels_last), self.fc1, channels_last))
        x = x + self.act(_depthwise(x, self.pos, channels_last))
        return _pointwise(x, self.fc2, channels_last)


class Conv2FormerBlock(nn.Module):
    """``x + DropPath(ls1 * ConvMod(x))``, then ``x + DropPath(ls2 * MLP(x))``.

    (N, H, W, C) -> (N, H, W, C) when ``channels_last`` (1x1 convs run as Linear layers, depthwise convs on the
    channels_last NCHW view: the faster layout, docs/conv2former.md), else (N, C, H, W) with the official
    NCHW ops. Both give the same outputs up to float rounding; the parameters keep the official (conv) shapes.
    Layer scales ``layer_scale_{1,2}`` have shape (C,) (official init 1e-6, hard-coded there).
    """

    def __init__(self, dim: int, kernel_size: int = 11, mlp_ratio: int = 4, drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6, channels_last: bool = True, dw_weight_grad: str = 'auto',
                 with_cp: bool = False):
        super().__init__()
        self.attn = ConvMod(dim, kernel_size, dw_weight_grad)
        self.mlp = ConvMlp(dim, mlp_ratio)
        self.layer_scale_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.channels_last = channels_last
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        cl = self.channels_last
        ls1, ls2 = (self.layer_scale_1, self.layer_scale_2) if cl else (self.layer_scale_1[:, None, None],
                                                                         self.layer_scale_2[:, None, None])
        x = x + self.drop_path(ls1 * self.attn(x, cl))
        return x + self.drop_path(ls2 * self.mlp(x, cl))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


@MODELS.register_module()
class Conv2Former(ConvNetBackbone):
    """Conv2Former backbone.

    Args:
        arch: one of ``n, t, s, b, b_22k, l`` (or ``nano, tiny, small, base, base_22k, large``) or
            ``dict(depths=[4 ints], dims=[4 ints], kernel_size=int)``. ``b_22k`` is the base model of the
            IN-22K checkpoints (7x7 kernels); ``n`` uses 7x7 since the official fix of 2025-01-02.
        in_channels: input channels.
        kernel_size: overrides the arch's depthwise kernel size (odd).
        mlp_ratio: MLP expansion (4 in every official model).
        drop_path_rate: stochastic depth, linear over all blocks.
        layer_scale_init_value: initial layer scale (official: 1e-6).
        out_indices: stages to output (0..3, negative allowed).
        out_type: ``'avg_featmap'`` (classification, the default; the official classifier without ``pred``): the
            last stage goes through ``head`` = 1x1 conv (C4 -> ``head_channels``) -> GELU -> LayerNorm and is
            globally average pooled to (N, head_channels); needs ``out_indices`` = the last stage. ``'featmap'``:
            every output is an (N, C_i, H / 2^(i+2), W / 2^(i+2)) map normalised by its own LayerNorm ``norm{i}``
            (not in the official code: freshly initialised, as in ConvNeXt's detection backbones).
        head_channels: width of the pre-logits head (official 1280).
        frozen_stages: -1 freezes nothing, 0 the stem, k >= 1 the stem and stages 0..k-1 (with their
            downsampling layers and output norms).
        norm_eval: keep the stem's BatchNorm layers in eval mode during training.
        with_cp: activation checkpointing per block.
        channels_last: run the blocks on channels-last tensors (default, faster); False runs the official NCHW
            ops (same parameters and outputs; kept as the benchmark baseline).
        dw_weight_grad: how the k x k depthwise convs compute their weight gradient (:class:`DepthwiseConv2d`):
            ``'auto'`` (FFT on CPU, where the native one is 10-60x the forward; native on GPU), ``'fft'``,
            ``'native'``.
        with_head: deprecated alias of ``out_type`` (True = ``'avg_featmap'``, False = ``'featmap'``).

    Input: (N, in_channels, H, W) with H and W multiples of 32.
    """

    checkpoint_family = 'Conv2Former'
    expected_missing_keys = (r'norm\d\.',)  # the output norms of dense backbones (docs/conv2former.md)

    arch_zoo = {
        **dict.fromkeys(['n', 'nano'], dict(depths=[2, 2, 8, 2], dims=[64, 128, 256, 512], kernel_size=7)),
        **dict.fromkeys(['t', 'tiny'], dict(depths=[3, 3, 12, 3], dims=[72, 144, 288, 576], kernel_size=11)),
        **dict.fromkeys(['s', 'small'], dict(depths=[4, 4, 32, 4], dims=[72, 144, 288, 576], kernel_size=11)),
        **dict.fromkeys(['b', 'base'], dict(depths=[4, 4, 34, 4], dims=[96, 192, 384, 768], kernel_size=11)),
        **dict.fromkeys(['b_22k', 'base_22k'], dict(depths=[4, 4, 34, 4], dims=[96, 192, 384, 768],
                                                    kernel_size=7)),
        **dict.fromkeys(['l', 'large'], dict(depths=[4, 4, 48, 4], dims=[128, 256, 512, 1024], kernel_size=11)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 kernel_size: int = None,
                 mlp_ratio: int = 4,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'avg_featmap',
                 head_channels: int = 1280,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 channels_last: bool = True,
                 dw_weight_grad: str = 'auto',
                 with_head: Optional[bool] = None,
                 init_cfg=None):
        super().__init__(arch, ('depths', 'dims', 'kernel_size'), out_indices, frozen_stages, norm_eval, init_cfg)
        self.kernel_size = self.arch_settings['kernel_size'] if kernel_size is None else kernel_size
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f'Conv2Former kernel_size must be a positive odd integer, got {self.kernel_size}')
        self.out_type = resolve_out_type('Conv2Former', out_type, with_head=with_head)
        if self.out_type == 'avg_featmap' and self.out_indices != (3, ):
            raise ValueError(f"out_type='avg_featmap' (classification) outputs the last stage only, got out_indices "
                             f"{out_indices}; set out_type='featmap' for multi-scale outputs")
        self.channels_last = channels_last

        c0, d = self.dims[0] // 2, self.dims
        stem = nn.Sequential(
            nn.Conv2d(in_channels, c0, 3, stride=2, padding=1, bias=False), nn.GELU(), nn.BatchNorm2d(c0),
            nn.Conv2d(c0, c0, 3, stride=1, padding=1, bias=False), nn.GELU(), nn.BatchNorm2d(c0),
            nn.Conv2d(c0, d[0], 2, stride=2, bias=False))
        self._build(
            stem, lambda dim, rate: Conv2FormerBlock(dim, self.kernel_size, mlp_ratio, rate, layer_scale_init_value,
                                                     channels_last, dw_weight_grad, with_cp), drop_path_rate)
        if self.out_type == 'avg_featmap':
            self.head = nn.Sequential(nn.Conv2d(d[3], head_channels, 1), nn.GELU(),
                                      LayerNorm2d(head_channels, eps=1e-6))
        else:
            for i in self.out_indices:
                self.add_module(f'norm{i}', LayerNorm2d(d[i], eps=1e-6))
        self._init_weights()

    @property
    def out_channels(self) -> Tuple[int, ...]:
        if self.out_type == 'avg_featmap':
            return (self.head[0].out_channels, )
        return super().out_channels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """x (N, C_in, H, W) -> a tuple with, per ``out_indices``, (N, C_i, H_i, W_i) maps, or (N, 1280)."""
        if self.channels_last:  # the stem convs too (faster in oneDNN), and its output permutes to NHWC for free
            self.check_input(x)
            x = x.contiguous(memory_format=torch.channels_last)
        return super().forward(x)

    def _stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            return self.stages[i](x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.stages[i](x)

    def _output(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if self.out_type == 'avg_featmap':
            return self.head(x).mean((-2, -1))
        return getattr(self, f'norm{i}')(x).contiguous()

    # ---- official checkpoints -------------------------------------------------------------------------
    def adapt_pretrained(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return convert_conv2former_official(state_dict, keep_head=self.out_type == 'avg_featmap')
