"""ConvNeXt V2 (Woo et al., CVPR 2023): ConvNeXt blocks with Global Response Normalization.

Parameter names follow the official release (``downsample_layers.*``, ``stages.s.b.{dwconv, norm, pwconv1,
grn, pwconv2}``), so official fine-tuned and FCMAE checkpoints load through ``init_cfg`` directly; the
classification ``norm`` becomes ``norm3`` and Minkowski (sparse) FCMAE training checkpoints are converted on
load (:func:`mmconvmae.models.convert.convnext_v2.convert_convnextv2_official`).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.model.weight_init import trunc_normal_

from mmconvmae.registry import MODELS
from ..convert.convnext_v2 import convert_convnextv2_official
from ..utils.base import (BaseBackbone, convnet_stage_depth, drop_path_rates, normalize_indices, resolve_arch,
                          resolve_out_type)
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
class ConvNeXtV2(BaseBackbone):
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
    stride = 32

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
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        arch = resolve_arch(arch, self.arch_zoo, ('depths', 'dims'), 'ConvNeXtV2')
        self.depths, self.dims = list(arch['depths']), list(arch['dims'])
        if len(self.depths) != 4 or len(self.dims) != 4:
            raise ValueError(f'ConvNeXtV2 arch needs 4 depths and 4 dims, got {self.depths} and {self.dims}')
        self.out_indices = normalize_indices(out_indices, 4)
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f'frozen_stages must be in [-1, 4], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.out_type = resolve_out_type('ConvNeXtV2', out_type, gap_before_final_norm=gap_before_final_norm)

        self.downsample_layers = nn.ModuleList([
            nn.Sequential(nn.Conv2d(in_channels, self.dims[0], 4, stride=4), LayerNorm2d(self.dims[0], eps=1e-6))
        ])
        for i in range(1, 4):
            self.downsample_layers.append(
                nn.Sequential(LayerNorm2d(self.dims[i - 1], eps=1e-6),
                              nn.Conv2d(self.dims[i - 1], self.dims[i], 2, stride=2)))
        dpr = drop_path_rates(drop_path_rate, sum(self.depths))
        self.stages = nn.ModuleList()
        for i, (depth, dim) in enumerate(zip(self.depths, self.dims)):
            rates = dpr[sum(self.depths[:i]):sum(self.depths[:i + 1])]
            self.stages.append(nn.Sequential(*[ConvNeXtV2Block(dim, r, with_cp=with_cp) for r in rates]))
        for i in self.out_indices:
            norm = nn.LayerNorm(self.dims[i], eps=1e-6) if self.out_type == 'avg_featmap' else LayerNorm2d(
                self.dims[i], eps=1e-6)
            self.add_module(f'norm{i}', norm)
        self.apply(self._init_module)
        self._freeze_stages()

    @staticmethod
    def _init_module(m: nn.Module):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=.02)
            nn.init.zeros_(m.bias)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return tuple(self.dims[i] for i in self.out_indices)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self.check_input(x)
        outs = []
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                outs.append(norm(x.mean((-2, -1))) if self.out_type == 'avg_featmap' else norm(x))
        return tuple(outs)

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        self._freeze(self.downsample_layers[0])
        for i in range(self.frozen_stages):
            self._freeze(self.downsample_layers[i], self.stages[i], getattr(self, f'norm{i}', None))

    # ---- layer-wise lr decay --------------------------------------------------------------------------
    def get_layer_depth(self, param_name: str, prefix: str = '', decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """``(layer_id, num_layers)`` of a parameter (``prefix``, e.g. ``'backbone.'``, stripped; names without it
        belong to a head and get the top id), for three schemes:

        - ``layer_wise``: the official fine-tuning ``single`` scheme (one id per block, the stem shares id 1
          with the first block; ``get_num_layer_for_convnext_single`` in ConvNeXt-V2 ``optim_factory.py``);
        - ``stage_wise``: the official ``group`` scheme (``get_num_layer_for_convnext``: stage 2 in groups of
          3 blocks, 12 groups for the 3-3-27-3 arches) with mmpretrain's / mmdet's ``num_layers`` of 6 for the
          smaller arches (the ConvNeXt-T detection recipe);
        - ``per_stage``: ConvNeXt's segmentation ``stage_wise`` (:func:`convnet_stage_depth`).
        """
        if decay_type == 'per_stage':
            return convnet_stage_depth(param_name, prefix)
        if decay_type not in ('layer_wise', 'stage_wise'):
            raise ValueError(f'decay_type must be layer_wise, stage_wise or per_stage, got {decay_type!r}')
        max_id = 12 if self.depths[-2] > 9 else 6
        num_layers = sum(self.depths) + 2 if decay_type == 'layer_wise' else max_id + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        parts = param_name[len(prefix):].split('.')
        if decay_type == 'layer_wise':
            if parts[0] == 'downsample_layers':
                return sum(self.depths[:int(parts[1])]) + 1, num_layers
            if parts[0] == 'stages':
                s, b = int(parts[1]), int(parts[2])
                return sum(self.depths[:s]) + b + 1, num_layers
            return num_layers - 1, num_layers
        if parts[0] in ('downsample_layers', 'stages'):
            s = int(parts[1])
            if s == 3:
                return max_id, num_layers
            if parts[0] == 'downsample_layers':
                return (0 if s == 0 else s + 1), num_layers
            return (s + 1 if s < 2 else 3 + int(parts[2]) // 3), num_layers
        return num_layers - 1, num_layers

    # ---- official checkpoints -------------------------------------------------------------------------
    def adapt_pretrained(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return convert_convnextv2_official(state_dict, has_norm3=hasattr(self, 'norm3'))
