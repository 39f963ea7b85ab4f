"""HiViT as used by iTPN (Tian et al., CVPR 2023; HiViT: Zhang et al., ICLR 2023).

A 4x4 conv stem, MLP-only blocks at 1/4 and 1/8 with PatchMerges between, then global-attention blocks at
1/16. Everything before the 1/16 stage acts inside one 16x16-pixel *unit*, so the stem runs on a
``(B, N, h, w, C)`` unit layout (N = (H/16)(W/16) units of h x w sub-tokens) and masked units can simply be
dropped (pixel pretraining) before the first block.

Parameter names are the official ones (``patch_embed``, one flat ``blocks`` list holding stem blocks,
``PatchMerge`` modules and main blocks, ``absolute_pos_embed``, ``attn.relative_position_bias_table``,
``gamma_1/2``, ``fc_norm``), so official iTPN checkpoints load as they are (:mod:`mmconvmae.models.convert.itpn`
only drops what does not belong to the backbone). The feature pyramid lives in
:class:`mmconvmae.models.necks.iTPNPyramid`.
"""
import logging
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_

from mmconvmae.registry import MODELS
from ..convert.itpn import convert_itpn_official
from ..utils.base import (BaseBackbone, deprecated_option, drop_path_rates, normalize_indices, resolve_arch,
                          resolve_out_type)
from ..utils.pos_embed import POS_EMBED_INTERP_MODES, resize_pos_embed, sincos_pos_embed
from ..utils.rel_pos import relative_position_index, resize_rel_pos_table


class Mlp(nn.Module):
    """timm ``Mlp``: ``fc1`` -> GELU -> ``fc2`` on the last dim."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """Global multi-head self-attention on (B, N, C) via ``scaled_dot_product_attention``.

    ``rpe_size`` S (tokens per side at pretraining resolution) adds a relative position bias from
    ``relative_position_bias_table`` ((2S-1)^2, heads); ``rpe_index`` is (N, N) or per sample (B, N, N).
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.,
                 proj_drop: float = 0., rpe_size: Optional[int] = None):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)
        self.rpe_size = rpe_size
        if rpe_size:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * rpe_size - 1)**2, num_heads))
            trunc_normal_(self.relative_position_bias_table, std=.02)

    def forward(self, x: torch.Tensor, rpe_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = None
        if self.rpe_size:
            bias = self.relative_position_bias_table[rpe_index]  # (N, N, h) or (B, N, N, h)
            bias = bias.permute(2, 0, 1)[None] if bias.dim() == 3 else bias.permute(0, 3, 1, 2)
            bias = bias.to(q.dtype)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                           dropout_p=self.attn_drop if self.training else 0.)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


class HiViTBlock(nn.Module):
    """Official ``BlockWithRPE``: pre-norm residual block on the last dim.

    ``num_heads=0`` gives the MLP-only block of the stem and the pyramid (``norm2`` + ``mlp`` only; input any
    (..., C)); otherwise an attention block on (B, N, C). ``layer_scale_init_value > 0`` adds ``gamma_1``
    (attention blocks) and ``gamma_2``.
    """

    def __init__(self, dim: int, num_heads: int = 0, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop: float = 0., attn_drop: float = 0., drop_path: float = 0., rpe_size: Optional[int] = None,
                 layer_scale_init_value: float = 0., norm_eps: float = 1e-6, with_cp: bool = False):
        super().__init__()
        if num_heads:
            self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
            self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop, rpe_size)
        else:
            self.norm1 = self.attn = None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.gamma_1 = self.gamma_2 = None
        if layer_scale_init_value > 0:
            if num_heads:
                self.gamma_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.with_cp = with_cp

    def _forward(self, x, rpe_index=None):
        if self.attn is not None:
            y = self.attn(self.norm1(x), rpe_index)
            x = x + self.drop_path(y if self.gamma_1 is None else self.gamma_1 * y)
        y = self.mlp(self.norm2(x))
        return x + self.drop_path(y if self.gamma_2 is None else self.gamma_2 * y)

    def forward(self, x: torch.Tensor, rpe_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, rpe_index, use_reentrant=False)
        return self._forward(x, rpe_index)


class PatchMerge(nn.Module):
    """(..., h, w, C) -> (..., h/2, w/2, 2C): concat of 2x2 neighbours, ``norm`` LN(4C), ``reduction``."""

    def __init__(self, dim: int, norm_eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(dim * 4, eps=norm_eps)
        self.reduction = nn.Linear(dim * 4, dim * 2, bias=False)

    def forward(self, x: torch.Tensor, rpe_index=None) -> torch.Tensor:
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]],
                      dim=-1)
        return self.reduction(self.norm(x))


class PatchSplit(nn.Module):
    """(..., h, w, C) -> (..., 2h, 2w, F): ``norm`` LN(C), ``reduction`` Linear(C, 4F) (the pyramid's
    linear 2x up-sampling, inverse of :class:`PatchMerge`)."""

    def __init__(self, dim: int, fpn_dim: int, norm_eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.reduction = nn.Linear(dim, fpn_dim * 4, bias=False)
        self.fpn_dim = fpn_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *lead, h, w, _ = x.shape
        x = self.reduction(self.norm(x)).reshape(*lead, h, w, 2, 2, self.fpn_dim)
        return x.transpose(-3, -4).reshape(*lead, 2 * h, 2 * w, self.fpn_dim)


class PatchEmbed(nn.Module):
    """(B, C, H, W) -> (B, N, 4, 4, E/4) units: ``proj`` Conv 4x4 stride 4, optional ``norm``."""

    def __init__(self, in_channels: int, dim: int, patch_size: int = 16, inner_patches: int = 4,
                 patch_norm: bool = True, norm_eps: float = 1e-6):
        super().__init__()
        self.patch_size, self.inner = patch_size, inner_patches
        stride = patch_size // inner_patches
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=stride, stride=stride)
        self.norm = nn.LayerNorm(dim, eps=norm_eps) if patch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        B, C, H, W = x.shape
        i = self.inner
        x = x.view(B, C, H // i, i, W // i, i).permute(0, 2, 4, 3, 5, 1).reshape(B, -1, i, i, C)
        return x if self.norm is None else self.norm(x)


def units_to_map(x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """(B, N, h, w, C) units on an ``hw`` grid -> (B, C, H*h, W*w) map."""
    B, N, h, w, C = x.shape
    H, W = hw
    return x.reshape(B, H, W, h, w, C).permute(0, 5, 1, 3, 2, 4).reshape(B, C, H * h, W * w)


def map_to_units(x: torch.Tensor, unit: int) -> torch.Tensor:
    """(B, C, H, W) map -> (B, N, unit, unit, C) units."""
    B, C, H, W = x.shape
    x = x.reshape(B, C, H // unit, unit, W // unit, unit)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, -1, unit, unit, C)


@MODELS.register_module()
class HiViT(BaseBackbone):
    """HiViT backbone with the official iTPN arches.

    Args:
        arch: ``'base'`` (iTPN-B: E=512, stem depths 3/3, 24 main blocks, 8 heads, 77.9 M) or ``'large'``
            (iTPN-L: 768, 2/2, 40, 12 heads, 287.4 M), or ``dict(embed_dims, depths=[d4, d8, d16], num_heads)``.
        img_size: pretraining resolution; sets the ``absolute_pos_embed`` grid (interpolated bicubically
            for other sizes, see ``pos_embed_interp``) and the relative-position table size.
        pos_embed_interp: how the position embedding is fitted to the input grid. ``'official'`` (default):
            the official ``interpolate_pos_encoding`` (table as is only when the token count equals the
            table's and the grid is square, else bicubic with ``scale_factor=(h + 0.1) / S``, so masked
            pretraining resizes it even at the training size); ``'exact'``: bicubic to exactly the grid,
            table as is whenever the grid matches. See :mod:`mmconvmae.models.utils.pos_embed`.
        rel_pos_bias: None, or ``'per_block'``: a relative position bias table in every main block (the official
            ``rpe=True`` of CLIP pretraining / fine-tuning; the ``rel_pos_bias`` vocabulary of :class:`ConvMAE`).
        ape: absolute position embedding (sin-cos initialised, trainable as in the official code).
        layer_scale_init_value: > 0 adds ``gamma_*`` (official CLIP models use 0.1).
        out_indices: stages to output: 0 = C4 (E/4 ch, stride 4), 1 = C8 (E/2, 8), 2 = C16 (E, 16).
        out_type: ``'featmap'``: (B, C, H/s, W/s) maps of ``out_indices``; ``'avg_featmap'``: the official
            classification output ``fc_norm(mean over C16 tokens)``, (B, E).
        mask_token: create ``mask_token`` (1, 1, E) for mask-token pretraining (CLIP target).
        frozen_stages: -1 nothing; 0 ``patch_embed``; k = 1, 2 also the k first stem stages (blocks and
            merges); 3 also the position embedding and the main blocks.
        with_cp: activation checkpointing per block.
        layer_id_scheme: layer ids for layer-wise lr decay (:meth:`get_layer_depth`): ``'every_block'`` (the
            official det / seg constructors, default) or ``'skip_merges'`` (the official fine-tuning code).
        rpe: deprecated alias of ``rel_pos_bias`` (True = ``'per_block'``, False = None).

    Input: (B, C, H, W) with H, W multiples of 16 (of 32 when a 1/32 level is made downstream).
    """

    checkpoint_family = 'iTPN / HiViT'
    expected_missing_keys = (r'blocks\.\d+\.attn\.relative_position_bias_table$', r'fc_norm\.')  # docs/itpn.md

    arch_zoo = {
        **dict.fromkeys(['b', 'base'], dict(embed_dims=512, depths=[3, 3, 24], num_heads=8)),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=768, depths=[2, 2, 40], num_heads=12)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: int = 224,
                 patch_size: int = 16,
                 inner_patches: int = 4,
                 in_channels: int = 3,
                 stem_mlp_ratio: float = 3.,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 ape: bool = True,
                 rel_pos_bias: Optional[str] = None,
                 pos_embed_interp: str = 'official',
                 patch_norm: bool = True,
                 layer_scale_init_value: float = 0.,
                 norm_eps: float = 1e-6,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2),
                 out_type: str = 'featmap',
                 mask_token: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 layer_id_scheme: str = 'every_block',
                 rpe: Optional[bool] = None,
                 init_cfg=None):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        if layer_id_scheme not in ('every_block', 'skip_merges'):
            raise ValueError(f"layer_id_scheme must be 'every_block' or 'skip_merges', got {layer_id_scheme!r}")
        self.layer_id_scheme = layer_id_scheme
        arch = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'HiViT')
        if rpe is not None:
            rel_pos_bias = deprecated_option('HiViT', 'rpe', rpe, 'rel_pos_bias', 'per_block' if rpe else None)
        if rel_pos_bias not in (None, 'per_block'):
            raise ValueError(f"HiViT rel_pos_bias must be None or 'per_block' (a table in every main block), "
                             f'got {rel_pos_bias!r}')
        self.embed_dims, self.depths, self.num_heads = arch['embed_dims'], list(arch['depths']), arch['num_heads']
        if len(self.depths) != 3 or self.embed_dims % 4:
            raise ValueError(f'HiViT arch needs depths=[d4, d8, d16] and embed_dims divisible by 4, '
                             f'got {self.depths}, {self.embed_dims}')
        if pos_embed_interp not in POS_EMBED_INTERP_MODES:
            raise ValueError(f'pos_embed_interp must be one of {POS_EMBED_INTERP_MODES}, got {pos_embed_interp!r}')
        self.pos_embed_interp = pos_embed_interp
        if not -1 <= frozen_stages <= 3:
            raise ValueError(f'frozen_stages must be in [-1, 3], got {frozen_stages}')
        if patch_size % inner_patches or img_size % patch_size:
            raise ValueError(f'img_size {img_size} must be a multiple of patch_size {patch_size}, itself a '
                             f'multiple of inner_patches {inner_patches}')
        self.out_indices = normalize_indices(out_indices, 3)
        self.out_type, self.frozen_stages = resolve_out_type('HiViT', out_type), frozen_stages
        self.patch_size, self.inner_patches = patch_size, inner_patches
        self.grid = img_size // patch_size
        E = self.embed_dims
        self.dims = (E // 4, E // 2, E)

        self.patch_embed = PatchEmbed(in_channels, E // 4, patch_size, inner_patches, patch_norm, norm_eps)
        self.absolute_pos_embed = nn.Parameter(torch.zeros(1, self.grid**2, E)) if ape else None
        self.mask_token = nn.Parameter(torch.zeros(1, 1, E)) if mask_token else None
        self.pos_drop = nn.Dropout(drop_rate)
        rates = iter(drop_path_rates(drop_path_rate, sum(self.depths)))
        blocks, self.stage_ends = [], []
        for s, depth in enumerate(self.depths):
            dim = self.dims[s]
            for _ in range(depth):
                blocks.append(
                    HiViTBlock(dim, self.num_heads if s == 2 else 0, mlp_ratio if s == 2 else stem_mlp_ratio,
                               qkv_bias, drop_rate, attn_drop_rate, next(rates),
                               self.grid if rel_pos_bias and s == 2 else None,
                               layer_scale_init_value, norm_eps, with_cp))
            if s < 2:
                blocks.append(PatchMerge(dim, norm_eps))
            self.stage_ends.append(len(blocks))
        self.blocks = nn.ModuleList(blocks)
        self.num_main_blocks = self.depths[2]
        self.rel_pos_bias, self.layer_scale_init_value = rel_pos_bias, layer_scale_init_value
        if out_type == 'avg_featmap':
            self.fc_norm = nn.LayerNorm(E, eps=norm_eps)
        self._init_weights()
        self._freeze_stages()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        if self.absolute_pos_embed is not None:
            # official pixel pretraining: MAE's get_2d_sincos_pos_embed (models_itpn_mim.py L184-185)
            self.absolute_pos_embed.data.copy_(sincos_pos_embed(self.embed_dims, (self.grid, self.grid)))
        if self.mask_token is not None:
            trunc_normal_(self.mask_token, std=.02)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return (self.embed_dims, ) if self.out_type == 'avg_featmap' else tuple(self.dims[i] for i in self.out_indices)

    # ---- forward -----------------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f'HiViT expects (B, C, H, W) input, got shape {tuple(x.shape)}')
        if x.shape[1] != self.patch_embed.proj.in_channels:
            raise ValueError(f'HiViT was built for {self.patch_embed.proj.in_channels} input channels, '
                             f'got {x.shape[1]}')
        h, w = x.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'HiViT needs H and W divisible by the patch size {self.patch_size}, got {h}x{w}; '
                             'pad the input (e.g. data_preprocessor pad_size_divisor=32)')
        hw = (h // self.patch_size, w // self.patch_size)
        if self.rel_pos_bias and max(hw) > self.grid:
            raise ValueError(f'relative position tables cover at most {self.grid}x{self.grid} units (img_size '
                             f'{self.grid * self.patch_size}), got {hw[0]}x{hw[1]}; build with a larger img_size')

    def pos_embed(self, hw: Tuple[int, int], num_tokens: Optional[int] = None) -> torch.Tensor:
        """(1, H*W, E) absolute position embedding for an H x W unit grid, ``num_tokens`` (default H*W) of
        which are present (the official rule compares that count with the table's; ``pos_embed_interp``)."""
        return resize_pos_embed(self.absolute_pos_embed, hw, self.pos_embed_interp, num_tokens)

    def forward_units(self, x: torch.Tensor, ids_keep: Optional[torch.Tensor] = None,
                      token_mask: Optional[torch.Tensor] = None, return_block: Optional[int] = None):
        """Runs the network on the unit layout.

        Args:
            x: (B, C, H, W) images.
            ids_keep: (B, K) indices of the units to keep (pixel pretraining): the others are dropped right
                after ``patch_embed`` and never seen again.
            token_mask: (B, N) bool/0-1, 1 = replace the unit's 1/16 token by ``mask_token`` (CLIP target).
            return_block: the main block (0-based) whose output to return as ``mid``.

        Returns:
            ``((c4, c8, c16), mid, hw)``: the levels of shapes (B, K, 4, 4, E/4), (B, K, 2, 2, E/2), (B, K, 1, 1, E)
            (K = N without ``ids_keep``), the (B, K, E) tokens of ``return_block`` (None when not asked) and the
            (H, W) unit grid.
        """
        self.check_input(x)
        hw = (x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size)
        x = self.patch_embed(x)
        B, N = x.shape[:2]
        if ids_keep is not None:
            if ids_keep.dim() != 2 or ids_keep.shape[0] != B:
                raise ValueError(f'ids_keep must be (B, K) = ({B}, K), got {tuple(ids_keep.shape)}')
            x = torch.gather(x, 1, ids_keep[:, :, None, None, None].expand(-1, -1, *x.shape[2:]))
        feats = []
        for i, blk in enumerate(self.blocks[:self.stage_ends[1]]):
            if i + 1 in self.stage_ends:  # the input of each PatchMerge is a stage output
                feats.append(x)
            x = blk(x)
        x = x[..., 0, 0, :]
        if token_mask is not None:
            if self.mask_token is None:
                raise ValueError('token_mask needs HiViT(mask_token=True)')
            if token_mask.shape != x.shape[:2]:
                raise ValueError(f'token_mask must be (B, N) = {tuple(x.shape[:2])}, got {tuple(token_mask.shape)}')
            w = token_mask.to(x.dtype).unsqueeze(-1)
            x = x * (1 - w) + self.mask_token.to(x.dtype) * w
        if self.absolute_pos_embed is not None:
            pe = self.pos_embed(hw, num_tokens=x.shape[1]).expand(B, -1, -1)
            if ids_keep is not None:
                pe = torch.gather(pe, 1, ids_keep[:, :, None].expand(-1, -1, pe.shape[-1]))
            x = x + pe
        x = self.pos_drop(x)
        rpe_index = None
        if self.rel_pos_bias:
            rpe_index = relative_position_index(*hw, self.grid, x.device)
            if ids_keep is not None:
                rows = torch.gather(rpe_index.expand(B, -1, -1), 1, ids_keep[:, :, None].expand(-1, -1, N))
                rpe_index = torch.gather(rows, 2, ids_keep[:, None, :].expand(-1, ids_keep.shape[1], -1))
        mid = None
        for j, blk in enumerate(self.blocks[self.stage_ends[1]:]):
            x = blk(x, rpe_index)
            if j == return_block:
                mid = x
        outs = (feats[0], feats[1], x[..., None, None, :])
        return outs, mid, hw

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        (c4, c8, c16), _, hw = self.forward_units(x)
        if self.out_type == 'avg_featmap':
            return (self.fc_norm(c16.mean((1, 2, 3))), )
        feats = (c4, c8, c16)
        return tuple(units_to_map(feats[i], hw) for i in self.out_indices)

    # ---- training behaviour ------------------------------------------------------------------------------
    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        self._freeze(self.patch_embed)
        start = 0
        for s in range(min(self.frozen_stages, 3)):
            self._freeze(*self.blocks[start:self.stage_ends[s]])
            start = self.stage_ends[s]
        if self.frozen_stages == 3:
            for p in (self.absolute_pos_embed, self.mask_token):
                if p is not None:
                    p.requires_grad = False

    def get_layer_depth(self, param_name: str, prefix: str = '', decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """``(layer_id, num_layers)`` under ``layer_id_scheme`` (``prefix``, e.g. ``'backbone.'``, stripped; a name
        without it, e.g. a head's, gets the top id). ``patch_embed`` / ``absolute_pos_embed`` / ``mask_token`` are
        layer 0, everything outside ``blocks`` (``fc_norm``) the top id ``num_layers - 1``.

        - ``'every_block'`` (official det / seg constructors, ``get_num_layer_for_vit``): ``blocks.i`` is
          ``i + 1``, patch merges included; ``num_layers = len(blocks) + 2``.
        - ``'skip_merges'`` (official fine-tuning ``util/lr_decay.py``, ``get_layer_id``): only real blocks
          count, a patch merge shares the id of the block before it; ``num_layers = sum(depths) + 2``.
        """
        if decay_type != 'layer_wise':
            raise ValueError(f"HiViT supports decay_type='layer_wise' only, got {decay_type!r}")
        merges = [i for i, blk in enumerate(self.blocks) if isinstance(blk, PatchMerge)]
        num_layers = len(self.blocks) + 2 - (len(merges) if self.layer_id_scheme == 'skip_merges' else 0)
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed.', 'absolute_pos_embed', 'mask_token')):
            return 0, num_layers
        if name.startswith('blocks.'):
            i = int(name.split('.')[1])
            if self.layer_id_scheme == 'skip_merges':
                i -= sum(m <= i for m in merges)  # a merge takes the id of the block before it
            return i + 1, num_layers
        return num_layers - 1, num_layers

    # ---- official checkpoints -----------------------------------------------------------------------------
    def adapt_pretrained(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        state = convert_itpn_official(state_dict)
        state = OrderedDict((k[len('backbone.'):], v) for k, v in state.items() if k.startswith('backbone.'))
        if self.mask_token is None:
            state.pop('mask_token', None)
        pe = state.get('absolute_pos_embed')
        if pe is not None and self.absolute_pos_embed is not None and pe.shape != self.absolute_pos_embed.shape:
            # exact-size resize of the stored table, as the official fine-tuning scripts do at load time
            state['absolute_pos_embed'] = resize_pos_embed(pe, (self.grid, self.grid), 'exact')
        own = self.state_dict()
        has_main = any(k.endswith('.attn.qkv.weight') for k in state)
        ckpt_scale, own_scale = any('.gamma_' in k for k in state), any('.gamma_' in k for k in own)
        if has_main and ckpt_scale != own_scale:  # official issue #17: gammas silently dropped / left at init
            raise ValueError(
                'The checkpoint ' + ('has' if ckpt_scale else 'has no') + ' layer scales (gamma_1/gamma_2) but this '
                f'HiViT was built with layer_scale_init_value={self.layer_scale_init_value}; use '
                + ('layer_scale_init_value=0.1 (official CLIP models)' if ckpt_scale else 'layer_scale_init_value=0'))
        dropped = [k for k in state if k.endswith('relative_position_bias_table') and k not in own]
        if dropped:
            print_log(f'HiViT(rel_pos_bias=None): ignoring the {len(dropped)} relative position tables of the '
                      "checkpoint (build with rel_pos_bias='per_block' to use them)", logger='current',
                      level=logging.WARNING)
        for k in [k for k in state if k.endswith('relative_position_bias_table')]:
            if k not in own:
                state.pop(k)
            elif state[k].shape != own[k].shape:  # resize the (2S-1)^2 grid of biases
                state[k] = resize_rel_pos_table(state[k], own[k].shape[0])
        return state
