"""ConvNeXt V2 (Woo et al., CVPR 2023): ConvNeXt blocks with Global Response Normalization.

Parameter names follow the official release (``downsample_layers.*``, ``stages.s.b.{dwconv, norm, pwconv1,
grn, pwconv2}``), so official fine-tuned and FCMAE checkpoints load through ``init_cfg`` directly; the
classification ``norm`` becomes ``norm3`` and Minkowski (sparse) FCMAE training checkpoints are converted on
load (:func:`mmconvmae.models.convert.convnext_v2.convert_convnextv2_official`).
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath

from mmconvmae.registry import MODELS
from ..convert.convnext_v2 import convert_convnextv2_official
from ..utils.base import resolve_out_type
from ..utils.convnet import ConvNetBackbone
from ..utils.layers import GRN, DepthwiseConv2d, LayerNorm2d


class ConvNeXtV2Block(nn.Module):
    """dwconv 7x7 -> LN -> Linear(C, 4C) -> GELU -> GRN -> Linear(4C, C) -> drop path -> + x.

    Input and output: (N, C, H, W). ``visible`` (N, 1, H, W), used by FCMAE's masked encoder, zeroes masked
    positions around the depthwise conv and keeps them out of the GRN statistics.
    """

    def __init__(self, dim: int, drop_path: float = 0., mlp_ratio: int = 4, with_cp: bool = False):
        super().__init__()
        self.dwconv = DepthwiseConv2d(dim, 7)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, mlp_ratio * dim)
        self.act = nn.GELU()
        self.grn = GRN(mlp_ratio * dim)
        self.pwconv2 = nn.Linear(mlp_ratio * dim, dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor, visible=None) -> torch.Tensor:
        shortcut = x
        if visible is not None:
            x = x * visible
        x = self.dwconv(x)
        x = x.permute(0, 2, 3, 1)  # (N, H, W, C)
        vis_last = None
        if visible is not None:
            vis_last = visible.permute(0, 2, 3, 1)
            x = x * vis_last
        x = self.act(self.pwconv1(self.norm(x)))
        x = self.pwconv2(self.grn(x, vis_last))
        x = x.permute(0, 3, 1, 2)
        if visible is not None:
            x = x * visible
        return shortcut + self.drop_path(x)

    def forward(self, x: torch.Tensor, visible=None) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, visible, use_reentrant=False)
        return self._forward(x, visible)


@MODELS.register_module()
class ConvNeXtV2(ConvNetBackbone):
    """ConvNeXt V2 backbone.

    Args:
        arch: one of ``atto, femto, pico, nano, tiny, base, large, huge`` or
            ``dict(depths=[...4 ints], dims=[...4 ints])``.
        in_channels: input channels.
        drop_path_rate: stochastic depth, linear over all blocks.
        out_indices: stages to output (0..3, negative allowed). Each output has its own norm ``norm{i}``.
        out_type: ``'avg_featmap'`` (classification, the default): outputs are globally average pooled to (N, C)
            and then normalised (the official ``forward_features``); ``'featmap'``: (N, C_i, H/2^(i+2), W/2^(i+2))
            maps normalised by a channels-first LayerNorm.
        frozen_stages: -1 freezes nothing, 0 the stem, k >= 1 the stem and stages 0..k-1 (with their
            downsampling layers and output norms).
        norm_eval: put BatchNorm layers in eval mode during training (no BN in this model; kept for API
            compatibility with OpenMMLab necks/heads that pass it).
        with_cp: activation checkpointing per block.
        gap_before_final_norm: deprecated alias of ``out_type`` (True = ``'avg_featmap'``, False = ``'featmap'``).

    Input: (N, in_channels, H, W) with H and W multiples of 32.
    """

    checkpoint_family = 'ConvNeXt V2'
    expected_missing_keys = (r'norm\d\.',)  # the output norms of dense backbones (docs: README)

    arch_zoo = {
        'atto': dict(depths=[2, 2, 6, 2], dims=[40, 80, 160, 320]),
        'femto': dict(depths=[2, 2, 6, 2], dims=[48, 96, 192, 384]),
        'pico': dict(depths=[2, 2, 6, 2], dims=[64, 128, 256, 512]),
        'nano': dict(depths=[2, 2, 8, 2], dims=[80, 160, 320, 640]),
        'tiny': dict(depths=[3, 3, 9, 3], dims=[96, 192, 384, 768]),
        'base': dict(depths=[3, 3, 27, 3], dims=[128, 256, 512, 1024]),
        'large': dict(depths=[3, 3, 27, 3], dims=[192, 384, 768, 1536]),
        'huge': dict(depths=[3, 3, 27, 3], dims=[352, 704, 1408, 2816]),
    }
    #: the official ``single`` layer-decay scheme puts the stem with the first block (:meth:`get_layer_depth`)
    stem_layer_id = 1

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 in_channels: int = 3,
                 drop_path_rate: float = 0.,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'avg_featmap',
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 gap_before_final_norm: Optional[bool] = None,
                 init_cfg=None):
        super().__init__(arch, ('depths', 'dims'), out_indices, frozen_stages, norm_eval, init_cfg)
        self.out_type = resolve_out_type('ConvNeXtV2', out_type, gap_before_final_norm=gap_before_final_norm)
        stem = nn.Sequential(nn.Conv2d(in_channels, self.dims[0], 4, stride=4), LayerNorm2d(self.dims[0], eps=1e-6))
        self._build(stem, lambda dim, rate: ConvNeXtV2Block(dim, rate, with_cp=with_cp), drop_path_rate)
        for i in self.out_indices:
            norm = nn.LayerNorm if self.out_type == 'avg_featmap' else LayerNorm2d
            self.add_module(f'norm{i}', norm(self.dims[i], eps=1e-6))
        self._init_weights()

    def _output(self, i: int, x: torch.Tensor) -> torch.Tensor:
        norm = getattr(self, f'norm{i}')
        return norm(x.mean((-2, -1))) if self.out_type == 'avg_featmap' else norm(x)

    # ---- official checkpoints -------------------------------------------------------------------------
    def adapt_pretrained(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return convert_convnextv2_official(state_dict, has_norm3=hasattr(self, 'norm3'))
