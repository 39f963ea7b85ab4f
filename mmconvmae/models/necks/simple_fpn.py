"""ViTDet's simple feature pyramid: a pyramid built from the single stride-16 map of a plain backbone.

A transcription of detectron2 ``modeling/backbone/vit.py::SimpleFeaturePyramid`` (the one that
OpenGVLab/Official-ConvMAE-Det's ``mask_rcnn_vitdet_convmae_b_25ep.py`` builds through
``configs/common/models/mask_rcnn_vitdet.py``), with its module names, so the ``backbone.simfp_*`` weights of a
detectron2 checkpoint load as they are. mmdet's ``SimpleFPN`` lives in its ViTDet project, which is not part of
the mmdet wheel.
"""
import math
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from mmconvmae.registry import MODELS
from ..utils.base import PretrainedModule
from ..utils.checkpoint import StateDict


class ConvNorm(nn.Conv2d):
    """``nn.Conv2d`` followed by an optional ``norm`` submodule (detectron2 ``layers.Conv2d`` with ``norm=``:
    keys ``weight`` [, ``bias``], ``norm.*``)."""

    def __init__(self, *args, norm: Optional[nn.Module] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return x if self.norm is None else self.norm(x)


@MODELS.register_module()
class SimpleFeaturePyramid(PretrainedModule):
    """Simple feature pyramid of ViTDet (Li et al., 2022) for Mask R-CNN.

    From one map (N, C, H, W) at stride ``in_stride`` (C = ``in_channels``), each ``scale_factors`` entry makes
    one level ``simfp_<log2 stride>``:

    - 4: ConvTranspose 2x2/2 (C -> C/2), norm, GELU, ConvTranspose 2x2/2 (C/2 -> C/4);
    - 2: ConvTranspose 2x2/2 (C -> C/2);  1: identity;  0.5: max-pool 2x2/2;

    then a 1x1 conv to ``out_channels`` + norm and a 3x3 conv + norm (convs without bias when normalised, as
    detectron2). ``top_block='maxpool'`` adds detectron2's ``LastLevelMaxPool`` (max-pool kernel 1, stride 2 of
    the last level), so the official (4, 2, 1, 0.5) gives P2-P6 at strides 4-64.

    Args:
        in_channels: channels C of the input map (768 for ConvMAE-B / ViT-B).
        out_channels: channels of every level (256).
        scale_factors: subset of (4, 2, 1, 0.5) in this order (official: all four).
        in_stride: stride of the input map (16).
        in_index: which backbone output to use when the input is a tuple (default: the last).
        norm_cfg: norm after the first transposed conv and after each conv; None: no norm (convs get a bias).
            Default: detectron2's ``"LN"`` = channel LayerNorm, eps 1e-6.
        top_block: ``'maxpool'`` or None.
        init_cfg: ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` reads the ``simfp_*`` weights of an
            official detectron2 detector (the backbone ``net.*`` keys are skipped).

    Weights keep PyTorch's default initialisation, as detectron2 (no explicit init in ``SimpleFeaturePyramid``).
    """

    def __init__(self,
                 in_channels: int = 768,
                 out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 in_stride: int = 16,
                 in_index: int = -1,
                 norm_cfg: Optional[dict] = dict(type='mmconvmae.LN2d', eps=1e-6),
                 top_block: Optional[str] = 'maxpool',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if top_block not in (None, 'maxpool'):
            raise ValueError(f"top_block must be 'maxpool' or None, got {top_block!r}")
        bad = [s for s in scale_factors if s not in (4.0, 2.0, 1.0, 0.5)]
        if bad or not scale_factors:
            raise ValueError(f'scale_factors must be a non-empty subset of (4, 2, 1, 0.5), got {scale_factors}')
        strides = [int(in_stride / s) for s in scale_factors]
        if any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise ValueError(f'scale_factors {tuple(scale_factors)} must give strides doubling from level to level '
                             f'(detectron2 _assert_strides_are_log2_contiguous), got {strides}')
        self.in_channels, self.out_channels, self.in_index = in_channels, out_channels, in_index
        self.scale_factors, self.top_block = tuple(scale_factors), top_block

        def norm(ch):
            return None if norm_cfg is None else build_norm_layer(norm_cfg, ch)[1]

        dim, use_bias = in_channels, norm_cfg is None
        self.stage_names = []
        for scale, stride in zip(scale_factors, strides):
            out_dim = dim
            if scale == 4.0:
                layers = [nn.ConvTranspose2d(dim, dim // 2, 2, stride=2), norm(dim // 2), nn.GELU(),
                          nn.ConvTranspose2d(dim // 2, dim // 4, 2, stride=2)]
                out_dim = dim // 4
                if layers[1] is None:
                    layers[1] = nn.Identity()
            elif scale == 2.0:
                layers, out_dim = [nn.ConvTranspose2d(dim, dim // 2, 2, stride=2)], dim // 2
            elif scale == 1.0:
                layers = []
            else:
                layers = [nn.MaxPool2d(2, stride=2)]
            layers += [ConvNorm(out_dim, out_channels, 1, bias=use_bias, norm=norm(out_channels)),
                       ConvNorm(out_channels, out_channels, 3, padding=1, bias=use_bias, norm=norm(out_channels))]
            name = f'simfp_{int(math.log2(stride))}'
            self.add_module(name, nn.Sequential(*layers))
            self.stage_names.append(name)

    def forward(self, inputs) -> Tuple[torch.Tensor, ...]:
        x = inputs[self.in_index] if isinstance(inputs, (tuple, list)) else inputs
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'SimpleFeaturePyramid expects an (N, {self.in_channels}, H, W) map, got shape '
                             f'{tuple(x.shape)}')
        outs = [getattr(self, name)(x) for name in self.stage_names]
        if self.top_block == 'maxpool':
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2, padding=0))
        return tuple(outs)

    def get_layer_depth(self, param_name: str, prefix: str = '', decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """A single layer: under layer-wise decay the pyramid trains at the full lr with the heads (official)."""
        return 0, 1

    def adapt_pretrained(self, state_dict: StateDict) -> StateDict:
        """Keeps the ``simfp_*`` keys (a detectron2 detector read with ``prefix='backbone.'`` also holds
        ``net.*``)."""
        return OrderedDict((k, v) for k, v in state_dict.items() if k.startswith('simfp_'))
