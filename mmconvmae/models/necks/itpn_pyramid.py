"""The iTPN feature pyramid: a top-down FPN made of MLP blocks and linear 2x up-sampling (``PatchSplit``).

One module, with the official parameter names, used in all three places so that a single pretraining
checkpoint fills it: inside iTPN pretraining (on the visible units only), as the Mask R-CNN neck (five
``fpn_dim`` levels, strides 4-64, the last two parameter-free average pools) and as the UperNet neck
(pyramid levels concatenated with the backbone features, plus a max-pooled 1/32 level).

    P16 = align_dim_16tofpn(C16)
    P8  = block_16to8(split_16to8(C16) + align_dim_16to8(C8))
    P4  = block_8to4(split_8to4(P8) + align_dim_8to4(C4))
    O16, O8, O4 = fpn_modules[0](P16), fpn_modules[1](P8), fpn_modules[2](P4)
"""
import logging
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_

from mmconvmae.registry import MODELS
from ..backbones.hivit import HiViTBlock, PatchSplit
from ..convert.itpn import PYRAMID_KEYS, convert_itpn_official
from ..utils.base import PretrainedModule


@MODELS.register_module()
class iTPNPyramid(PretrainedModule):
    """iTPN pyramid neck.

    Args:
        in_channels: backbone embed dim E (C4, C8, C16 have E/4, E/2, E channels).
        fpn_dim: pyramid width F (256 in every official config).
        fpn_depth: MLP blocks after each up-sampling (official: 2 for pixel pretraining and seg, 1 for CLIP
            pretraining and det).
        mlp_ratio: MLP ratio of the pyramid blocks.
        out_type: ``'units'``: input and output are channels-last ``(..., h, w, C)`` tensors (the unit layout of
            pretraining), returns ``(O16, O8, O4)``; ``'pyramid'``: input NCHW ``(C4, C8, C16)``, returns NCHW
            ``(O4, O8, O16, pool(O16), pool(pool(O16)))`` cut to ``num_outs`` levels, all F channels (det);
            ``'concat'``: returns ``(O4|C4, O8|C8, O16|C16, maxpool(O16|C16))`` with F + E/4, F + E/2, F + E,
            F + E channels (UperNet).
        num_outs: number of ``'pyramid'`` levels (3 to 5).
        with_cp: activation checkpointing of the blocks.
    """

    checkpoint_family = 'iTPN / HiViT'
    expected_missing_keys = ()

    def __init__(self, in_channels: int = 512, fpn_dim: int = 256, fpn_depth: int = 2, mlp_ratio: float = 4.,
                 out_type: str = 'pyramid', num_outs: int = 5, norm_eps: float = 1e-6, with_cp: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if out_type not in ('units', 'pyramid', 'concat'):
            raise ValueError(f"out_type must be 'units', 'pyramid' or 'concat', got {out_type!r}")
        if not 3 <= num_outs <= 5:
            raise ValueError(f'num_outs must be in [3, 5], got {num_outs}')
        if in_channels % 4 or fpn_depth < 1:
            raise ValueError(f'in_channels must be divisible by 4 and fpn_depth >= 1, got {in_channels}, {fpn_depth}')
        E, Fd = in_channels, fpn_dim
        self.in_channels, self.fpn_dim, self.out_type, self.num_outs = E, Fd, out_type, num_outs

        def mlp_blocks(n):
            return [HiViTBlock(Fd, 0, mlp_ratio, norm_eps=norm_eps, with_cp=with_cp) for _ in range(n)]

        self.align_dim_16tofpn = nn.Linear(E, Fd) if E != Fd else nn.Identity()
        self.split_16to8 = PatchSplit(E, Fd, norm_eps)
        self.align_dim_16to8 = nn.Linear(E // 2, Fd, bias=False)
        self.block_16to8 = nn.Sequential(*mlp_blocks(fpn_depth))
        self.split_8to4 = PatchSplit(Fd, Fd, norm_eps)
        self.align_dim_8to4 = nn.Linear(E // 4, Fd, bias=False)
        self.block_8to4 = nn.Sequential(*mlp_blocks(fpn_depth))
        self.fpn_modules = nn.ModuleList(mlp_blocks(3))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        E, Fd = self.in_channels, self.fpn_dim
        if self.out_type == 'concat':
            return (Fd + E // 4, Fd + E // 2, Fd + E, Fd + E)
        return (Fd, ) * (3 if self.out_type == 'units' else self.num_outs)

    def forward_units(self, c4: torch.Tensor, c8: torch.Tensor, c16: torch.Tensor):
        """Channels-last inputs (..., 4h, 4w, E/4), (..., 2h, 2w, E/2), (..., h, w, E) (e.g. (B, K, 4, 4, E/4)
        units, or (B, H, W, C) maps) -> ``(O16, O8, O4)`` with F channels at the same resolutions."""
        for x, c, name in ((c4, self.in_channels // 4, 'C4'), (c8, self.in_channels // 2, 'C8'),
                           (c16, self.in_channels, 'C16')):
            if x.shape[-1] != c:
                raise ValueError(f'iTPNPyramid(in_channels={self.in_channels}) expects {c} channels for {name}, got '
                                 f'{x.shape[-1]} (shape {tuple(x.shape)})')
        if not (c8.shape[-3:-1] == (2 * c16.shape[-3], 2 * c16.shape[-2])
                and c4.shape[-3:-1] == (4 * c16.shape[-3], 4 * c16.shape[-2])):
            raise ValueError(f'iTPNPyramid needs C4, C8, C16 at strides 4, 8, 16 of one image, got shapes '
                             f'{tuple(c4.shape)}, {tuple(c8.shape)}, {tuple(c16.shape)}')
        p16 = self.align_dim_16tofpn(c16)
        p8 = self.block_16to8(self.split_16to8(c16) + self.align_dim_16to8(c8))
        p4 = self.block_8to4(self.split_8to4(p8) + self.align_dim_8to4(c4))
        return tuple(blk(p) for blk, p in zip(self.fpn_modules, (p16, p8, p4)))

    def forward(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(feats) != 3:
            raise ValueError(f'iTPNPyramid takes the three HiViT levels (C4, C8, C16), got {len(feats)} tensors; '
                             'build the backbone with out_indices=(0, 1, 2)')
        if self.out_type == 'units':
            return self.forward_units(*feats)
        if any(f.dim() != 4 for f in feats):
            raise ValueError(f'iTPNPyramid(out_type={self.out_type!r}) takes NCHW maps, got shapes '
                             f'{[tuple(f.shape) for f in feats]}')
        c4, c8, c16 = (f.permute(0, 2, 3, 1) for f in feats)
        o16, o8, o4 = (o.permute(0, 3, 1, 2) for o in self.forward_units(c4, c8, c16))
        if self.out_type == 'pyramid':
            outs = [o4, o8, o16]
            while len(outs) < self.num_outs:
                outs.append(F.avg_pool2d(outs[-1], kernel_size=2, stride=2))
            return tuple(outs)
        outs = [torch.cat([o, c], dim=1) for o, c in zip((o4, o8, o16), feats)]
        outs.append(F.max_pool2d(outs[-1], kernel_size=2, stride=2))
        return tuple(outs)

    def get_layer_depth(self, param_name: str, prefix: str = '', decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """The pyramid sits on top of the backbone: full lr under layer-wise decay (the official det scheme)."""
        return 0, 1

    def adapt_pretrained(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Keeps the pyramid keys of an official / mmpretrain / our full checkpoint (or of a ``neck.``-stripped
        one); everything else (backbone, pretraining heads) belongs to other modules."""
        if any(PYRAMID_KEYS.match(k) for k in state_dict) and not any(k.startswith('neck.') for k in state_dict):
            state = OrderedDict((k, v) for k, v in state_dict.items() if PYRAMID_KEYS.match(k))
        else:
            state = convert_itpn_official(state_dict)
            state = OrderedDict((k[len('neck.'):], v) for k, v in state.items() if k.startswith('neck.'))
        depth = len(self.block_16to8)
        extra = sorted({k.split('.')[1] for k in state
                        if k.startswith('block_16to8.') and int(k.split('.')[1]) >= depth})
        if extra:  # e.g. a pixel checkpoint (fpn_depth 2) into the official det configs (fpn_depth 1)
            print_log(f'iTPNPyramid(fpn_depth={depth}): the checkpoint has {depth + len(extra)} MLP blocks per '
                      f'up-sampling step; its pretrained block_16to8/block_8to4.{",".join(extra)} are not used',
                      logger='current', level=logging.WARNING)
        return state
