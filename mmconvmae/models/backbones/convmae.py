"""ConvMAE (MCMAE, Gao et al., NeurIPS 2022): a hybrid convolution-transformer encoder.

Stages 1 and 2 are convolutional blocks (a 5x5 depthwise conv in place of attention, ``CBlock``) at strides 4 and
8; stage 3 is a plain ViT (absolute position embedding, no cls token) at stride 16. Parameter names follow the
official release (``patch_embed1..4``, ``blocks1/2/3``, ``pos_embed``; ``blocks*.{norm1, conv1, attn, conv2, norm2,
mlp.fc1, mlp.fc2}`` and ``blocks3.*.attn.{qkv, proj}``), so the released encoder (``convmae.pth``, ``ckpt['model']``)
loads through ``init_cfg`` with nothing missing; :mod:`mmconvmae.models.convert.convmae` also reads the official DET
(detectron2) and SEG (mmseg 0.x) checkpoints.

One module covers the three official backbones (see :class:`ConvMAE` and the switches below):

- the encoder of pretraining / ImageNet fine-tuning (all blocks global, ``out_type='avg_featmap'``: ``fc_norm``);
- the detection backbone of the official ``DET/`` code (:class:`ConvMAEDet`): windowed attention except in the
  global blocks (0, 3, 6, 10), one relative-position table shared by the window blocks and one by the global
  blocks, outputs (256, 384, 768, 768) at strides 4, 8, 16, 32 with the 1/32 level a 2x2 max-pool of 1/16;
- the segmentation backbone of the official ``SEG/`` UperNet (``rel_pos_bias='per_block'``,
  ``layer_scale_init_value=1.0``, ``downsample32='conv'``: all blocks global).

and, as a subclass, the ViTDet-style backbone of OpenGVLab/Official-ConvMAE-Det (:class:`ConvMAEViTDet`: per-block
decomposed relative position, 14x14 windows padded after ``norm1``, global blocks 1, 4, 7, 10, ``pos_embed`` kept
at 14x14 and resized in the forward, only the stride-16 output).

Beyond the official code (which asserts 1024x1024 / 512x512 inputs): any input size (the image is padded to a
multiple of 16 and the outputs cropped to ``ceil(H / stride)``; windows are padded inside and padded keys masked
out), the position embedding and relative-position tables interpolated to the current grid, SDPA attention with
the relative-position bias as its mask, ``with_cp``, ``frozen_stages``, layer-wise lr decay.

Arches: only ``base`` has released (v1) weights. ``large`` and ``huge`` take the shapes of the unmerged mmpretrain
ConvViT PR (probably the ConvMAE-v2 shapes, unverified; ``huge`` uses patch sizes 7-1-2, i.e. strides 7/7/14/28);
``small`` is our own analogue of ViT-S (dims and heads halved, not an official shape). No weights exist for them.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_

from mmconvmae.registry import MODELS
from ..convert.convmae import VARIANT_ONLY, check_rel_pos_variant, convert_convmae_official
from ..utils.base import BaseBackbone, drop_path_rates, normalize_indices, resolve_arch, resolve_out_type
from ..utils.layers import LayerNorm2d
from ..utils.pos_embed import resize_pos_embed
from ..utils.rel_pos import decomposed_rel_pos_bias, relative_position_bias, resize_rel_pos_table

StateDict = Dict[str, torch.Tensor]


# ---- blocks -------------------------------------------------------------------------------------------------
class Mlp(nn.Module):
    """``fc1`` -> GELU -> ``fc2``; 1x1 convs on (N, C, H, W) (official ``CMlp``) or Linears on (..., C)."""

    def __init__(self, dim: int, hidden: int, conv: bool = False):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1) if conv else nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1) if conv else nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


#: the official patch-embedding norm: a channel LayerNorm with eps 1e-5
PATCH_NORM = dict(type=LayerNorm2d, eps=1e-5)


class PatchEmbed(nn.Module):
    """``proj`` (kernel = stride = patch) -> ``norm`` (official: channel LayerNorm, eps 1e-5) -> GELU.

    ``norm_cfg`` None: no norm (``norm`` is an Identity). (N, C_in, H, W) -> (N, C, H / patch, W / patch).
    """

    def __init__(self, in_channels: int, dim: int, patch: int, norm_cfg: Optional[dict] = PATCH_NORM):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.norm = build_norm_layer(norm_cfg, dim)[1] if norm_cfg is not None else nn.Identity()
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.proj(x)))


class ConvBlock(nn.Module):
    """Stage-1/2 block (official ``CBlock``) on (N, C, H, W):
    ``x + conv2(attn(conv1(norm1(x)) * visible))`` then ``x + mlp(norm2(x))``, ``attn`` a 5x5 depthwise conv.

    ``visible`` (N, 1, H, W), 1 = visible, is the masked convolution of pretraining: masked positions enter the
    depthwise conv (the only spatial mixing) as zeros, so they cannot reach visible positions.
    """

    def __init__(self, dim: int, mlp_ratio: float = 4., drop_path: float = 0., with_cp: bool = False,
                 norm_eps: float = 1e-5):
        super().__init__()
        self.norm1 = LayerNorm2d(dim, eps=norm_eps)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.attn = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.norm2 = LayerNorm2d(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), conv=True)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor, visible: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.conv1(self.norm1(x))
        if visible is not None:
            y = y * visible
        x = x + self.drop_path(self.conv2(self.attn(y)))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x: torch.Tensor, visible: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, visible, use_reentrant=False)
        return self._forward(x, visible)


class Attention(nn.Module):
    """Multi-head self-attention (``qkv``, ``proj``) through ``F.scaled_dot_product_attention``.

    ``bias``: optional additive attention bias broadcastable to (B, heads, N, N) (relative position, padding
    mask). With ``rel_pos_size`` the module owns a per-block relative-position table
    (``relative_position_bias_table``, official SEG); the caller turns it into ``bias``
    (:func:`relative_position_bias`).
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 rel_pos_size: Optional[Tuple[int, int]] = None):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_size = rel_pos_size
        if rel_pos_size is not None:
            self.relative_position_bias_table = nn.Parameter(
                torch.zeros((2 * rel_pos_size[0] - 1) * (2 * rel_pos_size[1] - 1), num_heads))

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=None if bias is None else bias.to(q.dtype))
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class TransformerBlock(nn.Module):
    """Stage-3 (and decoder) ViT block on (B, N, C): ``x + gamma_1 * attn(norm1(x))``, ``x + gamma_2 * mlp(norm2(x))``.

    ``layer_scale_init_value > 0`` adds the layer-scale vectors ``gamma_1``/``gamma_2`` (official SEG uses 1.0).
    """
    #: the attention module, built as ``attn_cls(dim, num_heads, qkv_bias, rel_pos_size)``
    attn_cls = Attention

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_path: float = 0., layer_scale_init_value: float = 0.,
                 rel_pos_size: Optional[Tuple[int, int]] = None, norm_eps: float = 1e-6, with_cp: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = self.attn_cls(dim, num_heads, qkv_bias, rel_pos_size)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        if layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))
            self.gamma_2 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))
        else:
            self.gamma_1 = self.gamma_2 = None
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.attn(self.norm1(x), bias)
        x = x + self.drop_path(y if self.gamma_1 is None else self.gamma_1 * y)
        y = self.mlp(self.norm2(x))
        return x + self.drop_path(y if self.gamma_2 is None else self.gamma_2 * y)

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, bias, use_reentrant=False)
        return self._forward(x, bias)


class DecomposedRelPosAttention(Attention):
    """Attention over an (B, H, W, C) token grid with ViTDet's decomposed relative position (detectron2
    ``modeling/backbone/vit.py::Attention``, used by Official-ConvMAE-Det): per-block tables ``rel_pos_h``
    (2 S_h - 1, head_dim) and ``rel_pos_w`` (2 S_w - 1, head_dim), zero-initialised, for ``rel_pos_size`` = (S_h, S_w);
    a grid of another size reads linearly resized tables (:func:`get_rel_pos`). None: no relative position.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 rel_pos_size: Optional[Tuple[int, int]] = None):
        super().__init__(dim, num_heads, qkv_bias)
        self.rel_pos_size = rel_pos_size
        if rel_pos_size is not None:
            head_dim = dim // num_heads
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * rel_pos_size[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * rel_pos_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        if bias is not None:
            raise ValueError('DecomposedRelPosAttention computes its own relative-position bias')
        b, h, w, c = x.shape
        q, k, v = self.qkv(x).reshape(b, h * w, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1,
                                                                                                4).unbind(0)
        if self.rel_pos_size is not None:  # q . R added to the scaled logits, as detectron2 add_decomposed_rel_pos
            bias = decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, (h, w), (h, w))
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(x.transpose(1, 2).reshape(b, h, w, c))


class ViTDetBlock(TransformerBlock):
    """Stage-3 block of Official-ConvMAE-Det (detectron2 ViT ``Block``) on (B, H, W, C) token maps.

    ``window_size > 0``: ``norm1`` first, then the *normalised* tokens are zero-padded to a multiple of the
    window and partitioned; the padded tokens take part in the attention (keys and queries, with the
    relative-position bias of their positions) and are cropped afterwards, exactly as ViTDet. ``window_size=0``:
    global attention over the whole map. ``rel_pos_size``: grid of the decomposed tables (the window, or the
    map of the nominal input size in global blocks); None: no relative position.
    """
    attn_cls = DecomposedRelPosAttention

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_path: float = 0., window_size: int = 0, rel_pos_size: Optional[Tuple[int, int]] = None,
                 norm_eps: float = 1e-6, with_cp: bool = False):
        super().__init__(dim, num_heads, mlp_ratio, qkv_bias, drop_path, rel_pos_size=rel_pos_size,
                         norm_eps=norm_eps, with_cp=with_cp)
        self.window_size = window_size

    def _forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.norm1(x)
        ws = self.window_size
        if ws > 0:
            n, h, w, c = y.shape
            y, padded = window_partition(y, ws)
            y = self.attn(y.view(-1, ws, ws, c), bias)
            y = window_unpartition(y.view(-1, ws * ws, c), ws, padded, (h, w))
        else:
            y = self.attn(y, bias)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))


# ---- relative position ----------------------------------------------------------------------------------------
class RelativePositionBias(nn.Module):
    """A BEiT-style relative-position table shared by several blocks (official DET ``windowed_rel_pos_bias`` /
    ``global_rel_pos_bias``): ``relative_position_bias_table`` ((2h-1)(2w-1), heads), zero-initialised."""

    def __init__(self, size: Tuple[int, int], num_heads: int):
        super().__init__()
        self.size = tuple(size)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * size[0] - 1) * (2 * size[1] - 1), num_heads))

    def forward(self, grid: Tuple[int, int]) -> torch.Tensor:
        return relative_position_bias(self.relative_position_bias_table, self.size, grid)


# ---- windows --------------------------------------------------------------------------------------------------
def window_partition(x: torch.Tensor, ws: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """(B, H, W, C) -> (B * nW, ws*ws, C), zero-padding H and W up to multiples of ``ws`` (windows in row-major
    order per image, tokens row-major inside a window, as the official ``rearrange``). Returns the padded (H, W)."""
    b, h, w, c = x.shape
    ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.view(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c), (hp, wp)


def window_unpartition(x: torch.Tensor, ws: int, padded: Tuple[int, int], size: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, ws*ws, C) -> (B, H, W, C), padding cropped."""
    (hp, wp), (h, w) = padded, size
    c = x.shape[-1]
    x = x.view(-1, hp // ws, wp // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, hp, wp, c)
    return x[:, :h, :w].contiguous() if (hp, wp) != (h, w) else x


def padding_key_mask(ws: int, size: Tuple[int, int], padded: Tuple[int, int], device) -> Optional[torch.Tensor]:
    """(nW, 1, 1, ws*ws) additive mask, -inf at the padded keys of each window (None without padding). Every window
    holds at least one real token (padding < ws), so no attention row is fully masked."""
    (h, w), (hp, wp) = size, padded
    if (h, w) == (hp, wp):
        return None
    real = torch.zeros(1, hp, wp, 1, device=device)
    real[:, :h, :w] = 1
    real, _ = window_partition(real, ws)  # (nW, ws*ws, 1)
    return torch.zeros_like(real).masked_fill(real == 0, float('-inf')).view(-1, 1, 1, ws * ws)


# ---- backbone -------------------------------------------------------------------------------------------------
@MODELS.register_module()
class ConvMAE(BaseBackbone):
    """ConvMAE encoder and its detection / segmentation / classification backbones.

    Args:
        arch: ``'base'`` (released weights), ``'small'``, ``'large'``, ``'huge'`` (no weights; see the module
            docstring) or ``dict(embed_dims=[3 ints], depths=[3 ints], num_heads=int[, patch_sizes=[3 ints],
            mlp_ratio=float])``.
        img_size: the nominal input size: the position embedding is stored for it (``pos_embed`` holds
            (img_size / 16)^2 tokens: 224 for the released encoder, 1024 in DET, 512 in SEG) unless
            ``pretrain_img_size`` is set, and the relative-position tables of global blocks cover its grid. Other
            input sizes interpolate ``pos_embed`` (bicubic) at every forward; checkpoints of another size are
            interpolated on load.
        pretrain_img_size: store ``pos_embed`` for this size instead of ``img_size`` (Official-ConvMAE-Det keeps
            the 14x14 table of pretraining, 224, and resizes it at every forward); None: ``img_size``.
        in_channels: input channels.
        out_indices: levels to output: 0, 1, 2 = stages 1-3 (strides 4, 8, 16), 3 = the 1/32 level made from
            stage 3 by ``downsample32``.
        out_type: ``'featmap'`` (default): the maps of ``out_indices``; ``'avg_featmap'``: classification (official
            fine-tuning with ``global_pool``): output ``(fc_norm(mean of the stage-3 tokens),)`` of shape (N, C3);
            needs ``out_indices=2``.
        window_size: None: global attention in every stage-3 block. An int: windowed attention (non-overlapping
            ``window_size`` x ``window_size`` token windows) in every block except ``global_attn_indexes``.
        global_attn_indexes: the stage-3 blocks with global attention when ``window_size`` is set (official DET:
            0, 3, 6, 10, i.e. the 1st, 4th, 7th and 11th); ignored without ``window_size``.
        pad_to_window: pad the token grid to a multiple of ``window_size`` inside windowed blocks (padded keys are
            masked out) and crop back; False requires the grid to be divisible (the official behaviour).
        rel_pos_bias: None; ``'shared'``: one BEiT-style table for all window blocks (``windowed_rel_pos_bias``) and
            one for all global blocks (``global_rel_pos_bias``, sized for ``img_size``), official DET;
            ``'per_block'``: a table in every block (``blocks3.i.attn.relative_position_bias_table``), official SEG.
        layer_scale_init_value: > 0 adds layer scale ``gamma_1/gamma_2`` to stage-3 blocks (official SEG: 1.0).
        downsample32: how level 3 is made from stage 3: ``'maxpool'`` (2x2 max-pool, official DET) or ``'conv'``
            (``fpn`` = Conv 3x3 stride 2 without padding + ``norm_cfg`` + GELU, official SEG).
        norm_cfg: norm of the ``'conv'`` 1/32 level (official SEG: SyncBN).
        patch_norm_cfg: norm of the three patch embeddings ``patch_embed1..3`` (official: channel LayerNorm, eps
            1e-5; the default). Not an official option: ``dict(type='BN')`` or None (no norm) are for training
            from scratch, where the per-pixel LayerNorm after the stride-4 stem keeps the small demo detector from
            learning (docs/convmae.md, "Main demo"); released checkpoints expect the default.
        qkv_bias: bias in the stage-3 ``qkv`` projections (official: True).
        stage3_norm_eps: eps of the stage-3 LayerNorms (official 1e-6; the official SEG code uses 1e-5).
        conv_norm_eps: eps of the conv-block (stages 1-2) LayerNorms (Alpha-VL code 1e-5; Official-ConvMAE-Det
            builds them with its ``norm_layer``, eps 1e-6). The patch-embedding LayerNorms keep 1e-5 everywhere.
        drop_path_rate: stochastic depth, linear over all 2 + 2 + 11 blocks.
        freeze_pos_embed: keep ``pos_embed`` fixed (official DET freezes the interpolated embedding).
        frozen_stages: -1 nothing; 0 ``patch_embed1``; k >= 1 stages 1..k with their patch embeddings (stage 3
            includes ``patch_embed4``, ``pos_embed`` and the shared relative-position tables).
        norm_eval: BatchNorm layers (only in ``downsample32='conv'``) in eval mode during training.
        with_cp: activation checkpointing per block.
        gap_before_final_norm: deprecated alias of ``out_type`` (True = ``'avg_featmap'``, False = ``'featmap'``).

    Input: (N, in_channels, H, W), any H and W. Output: a tuple of (N, C_i, ceil(H / s_i), ceil(W / s_i)) for the
    ``out_indices`` with strides s = (4, 8, 16, 32) and channels (C1, C2, C3, C3) (base: 256, 384, 768, 768); with
    ``downsample32='conv'`` level 3 is (N, C3, (h - 3) // 2 + 1, ...) for a stage-3 grid h, as in the official SEG.
    """

    checkpoint_family = 'ConvMAE'
    expected_missing_keys = (
        r'(windowed|global)_rel_pos_bias\.', r'blocks3\.\d+\.(attn\.relative_position_bias_table|gamma_[12])$',
        r'fpn\.', r'fc_norm\.',  # what the det / seg / fine-tuning layouts add (docs/convmae.md)
        r'blocks3\.\d+\.attn\.rel_pos_[hw]$')  # ViTDet tables: zero-initialised, not in the released encoder

    arch_zoo = {
        # ViT-S analogue, not an official shape (no weights)
        'small': dict(embed_dims=[128, 256, 384], depths=[2, 2, 11], num_heads=6),
        # the released ConvMAE-B
        'base': dict(embed_dims=[256, 384, 768], depths=[2, 2, 11], num_heads=12),
        # shapes of the unmerged mmpretrain ConvViT PR (probably ConvMAE-v2; no released v1 weights)
        'large': dict(embed_dims=[384, 768, 1024], depths=[2, 2, 23], num_heads=16),
        'huge': dict(embed_dims=[768, 1024, 1280], depths=[2, 2, 31], num_heads=16, patch_sizes=[7, 1, 2]),
    }
    num_levels = 4

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 224,
                 pretrain_img_size: Optional[Union[int, Sequence[int]]] = None,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 out_type: str = 'featmap',
                 window_size: Optional[int] = None,
                 global_attn_indexes: Sequence[int] = (0, 3, 6, 10),
                 pad_to_window: bool = True,
                 rel_pos_bias: Optional[str] = None,
                 layer_scale_init_value: float = 0.,
                 downsample32: str = 'maxpool',
                 norm_cfg: dict = dict(type='SyncBN', requires_grad=True),
                 patch_norm_cfg: Optional[dict] = PATCH_NORM,
                 qkv_bias: bool = True,
                 stage3_norm_eps: float = 1e-6,
                 conv_norm_eps: float = 1e-5,
                 drop_path_rate: float = 0.,
                 freeze_pos_embed: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 gap_before_final_norm: Optional[bool] = None,
                 init_cfg=None):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        arch = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'ConvMAE')
        self.embed_dims, self.depths = list(arch['embed_dims']), list(arch['depths'])
        self.patch_sizes = list(arch.get('patch_sizes', [4, 2, 2]))
        self.num_heads = int(arch['num_heads'])
        mlp_ratio = float(arch.get('mlp_ratio', 4.))
        if not len(self.embed_dims) == len(self.depths) == len(self.patch_sizes) == 3:
            raise ValueError('ConvMAE arch needs 3 embed_dims, 3 depths and 3 patch_sizes, got '
                             f'{self.embed_dims}, {self.depths}, {self.patch_sizes}')
        strides = [int(math.prod(self.patch_sizes[:i + 1])) for i in range(3)]
        self.strides = tuple(strides + [strides[2] * 2])
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        #: stage-3 token grid of ``img_size`` (relative-position tables of global blocks)
        self.img_grid = (self.img_size[0] // strides[2], self.img_size[1] // strides[2])
        pos_size = self.img_size if pretrain_img_size is None else (
            (pretrain_img_size, pretrain_img_size) if isinstance(pretrain_img_size, int) else tuple(pretrain_img_size))
        #: grid the stored ``pos_embed`` is for
        self.pos_grid = (pos_size[0] // strides[2], pos_size[1] // strides[2])
        if min(self.img_grid + self.pos_grid) < 1:
            raise ValueError(f'img_size {img_size} / pretrain_img_size {pretrain_img_size} is smaller than the '
                             f'stage-3 stride {strides[2]}')
        self.in_channels = in_channels

        self.out_indices = normalize_indices(out_indices, self.num_levels)
        self.out_type = resolve_out_type(type(self).__name__, out_type, gap_before_final_norm=gap_before_final_norm)
        if self.out_type == 'avg_featmap' and self.out_indices != (2, ):
            raise ValueError("out_type='avg_featmap' (classification) pools the stage-3 tokens: set out_indices=2, "
                             f'got {self.out_indices}')
        depth3 = self.depths[2]
        if window_size is not None and (not isinstance(window_size, int) or window_size < 1):
            raise ValueError(f'window_size must be a positive int or None (global attention), got {window_size!r}')
        self.window_size = window_size
        # without windows every block is global and global_attn_indexes is not used
        self.global_attn_indexes = tuple(range(depth3)) if window_size is None else normalize_indices(
            list(global_attn_indexes), depth3, 'global_attn_indexes')
        #: per stage-3 block: True = windowed attention
        self.windowed = [window_size is not None and i not in self.global_attn_indexes for i in range(depth3)]
        self.pad_to_window = pad_to_window
        if rel_pos_bias not in (None, 'shared', 'per_block'):
            raise ValueError(f"rel_pos_bias must be None, 'shared' (official DET) or 'per_block' (official SEG), "
                             f'got {rel_pos_bias!r}')
        self.rel_pos_bias = rel_pos_bias
        if downsample32 not in ('maxpool', 'conv'):
            raise ValueError(f"downsample32 must be 'maxpool' (official DET) or 'conv' (official SEG), "
                             f'got {downsample32!r}')
        self.downsample32 = downsample32
        if not -1 <= frozen_stages <= 3:
            raise ValueError(f'frozen_stages must be in [-1, 3], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.freeze_pos_embed = freeze_pos_embed

        d1, d2, d3 = self.embed_dims
        self.patch_embed1 = PatchEmbed(in_channels, d1, self.patch_sizes[0], patch_norm_cfg)
        self.patch_embed2 = PatchEmbed(d1, d2, self.patch_sizes[1], patch_norm_cfg)
        self.patch_embed3 = PatchEmbed(d2, d3, self.patch_sizes[2], patch_norm_cfg)
        self.patch_embed4 = nn.Linear(d3, d3)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.pos_grid[0] * self.pos_grid[1], d3))
        dpr = drop_path_rates(drop_path_rate, sum(self.depths))
        n1, n2 = self.depths[0], self.depths[0] + self.depths[1]
        self.blocks1 = nn.ModuleList(ConvBlock(d1, mlp_ratio, r, with_cp, conv_norm_eps) for r in dpr[:n1])
        self.blocks2 = nn.ModuleList(ConvBlock(d2, mlp_ratio, r, with_cp, conv_norm_eps) for r in dpr[n1:n2])
        self.layer_scale_init_value = layer_scale_init_value
        common = dict(mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_eps=stage3_norm_eps, with_cp=with_cp)
        self.blocks3 = nn.ModuleList(self._make_block3(i, r, common) for i, r in enumerate(dpr[n2:]))
        if rel_pos_bias == 'shared':
            if any(self.windowed):
                self.windowed_rel_pos_bias = RelativePositionBias((window_size, window_size), self.num_heads)
            if not all(self.windowed):
                self.global_rel_pos_bias = RelativePositionBias(self.img_grid, self.num_heads)
        if self.out_type == 'avg_featmap':
            self.fc_norm = nn.LayerNorm(d3, eps=1e-6)
        if 3 in self.out_indices and downsample32 == 'conv':
            self.fpn = nn.Sequential(nn.Conv2d(d3, d3, 3, stride=2), build_norm_layer(norm_cfg, d3)[1], nn.GELU())

        self.apply(self._init_module)
        trunc_normal_(self.pos_embed, std=.02)
        self._freeze_stages()

    def _make_block3(self, index: int, drop_path: float, common: dict) -> nn.Module:
        """Stage-3 block ``index`` (``common``: mlp_ratio, qkv_bias, norm_eps, with_cp)."""
        rel_pos_size = None
        if self.rel_pos_bias == 'per_block':
            rel_pos_size = (self.window_size, self.window_size) if self.windowed[index] else self.img_grid
        return TransformerBlock(self.embed_dims[2], self.num_heads, drop_path=drop_path,
                                layer_scale_init_value=self.layer_scale_init_value, rel_pos_size=rel_pos_size,
                                **common)

    @staticmethod
    def _init_module(m: nn.Module):
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        channels = self.embed_dims + [self.embed_dims[2]]
        return tuple(channels[i] for i in self.out_indices)

    # ---- forward --------------------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects (N, {self.in_channels}, H, W) images, got shape '
                             f'{tuple(x.shape)}')

    def get_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """``pos_embed`` for a stage-3 grid (h, w): (1, h*w, C3), interpolated when the grid differs."""
        return resize_pos_embed(self.pos_embed, grid, 'exact', src_hw=self.pos_grid)

    def embed(self, x: torch.Tensor, visible: Optional[Sequence[torch.Tensor]] = None):
        """Stages 1-2 and the stage-3 embedding. x (N, C, H, W) with H, W multiples of the stage-3 stride.

        ``visible``: optional (N, 1, H/s1, W/s1) and (N, 1, H/s2, W/s2) masks for the masked convolution.
        Returns (stage-1 map, stage-2 map, stage-3 tokens (N, h, w, C3) with the position embedding).
        """
        v1, v2 = visible if visible is not None else (None, None)
        x = self.patch_embed1(x)
        for blk in self.blocks1:
            x = blk(x, v1)
        s1 = x
        x = self.patch_embed2(x)
        for blk in self.blocks2:
            x = blk(x, v2)
        s2 = x
        x = self.patch_embed3(x)
        h, w = x.shape[-2:]
        x = self.patch_embed4(x.permute(0, 2, 3, 1)) + self.get_pos_embed((h, w)).view(1, h, w, -1)
        return s1, s2, x

    def _bias(self, index: int, grid: Tuple[int, int], cache: dict) -> Optional[torch.Tensor]:
        """Relative-position bias (heads, L, L) of stage-3 block ``index`` over a ``grid`` (a window or the map)."""
        if self.rel_pos_bias is None:
            return None
        if self.rel_pos_bias == 'per_block':
            attn = self.blocks3[index].attn
            return relative_position_bias(attn.relative_position_bias_table, attn.rel_pos_size, grid)
        windowed = self.windowed[index]
        if windowed not in cache:  # shared tables: once per forward
            cache[windowed] = (self.windowed_rel_pos_bias if windowed else self.global_rel_pos_bias)(grid)
        return cache[windowed]

    def forward_stage3(self, x: torch.Tensor) -> torch.Tensor:
        """Stage-3 blocks on (N, h, w, C) tokens with the window / global layout; returns (N, h, w, C).

        Consecutive window blocks share one partition (as in the official DET); the map is restored (padding
        cropped) before every global block.
        """
        n, h, w, c = x.shape
        ws, cache, i = self.window_size, {}, 0
        while i < len(self.blocks3):
            j = i
            while j < len(self.blocks3) and self.windowed[j] == self.windowed[i]:
                j += 1
            if self.windowed[i]:
                if not self.pad_to_window and (h % ws or w % ws):
                    raise ValueError(f'window_size {ws} does not divide the stage-3 grid {h}x{w}; set '
                                     'pad_to_window=True or feed inputs whose size is a multiple of '
                                     f'{ws * self.strides[2]}')
                t, padded = window_partition(x, ws)
                mask = padding_key_mask(ws, (h, w), padded, x.device)
                source, full = (), None  # the last table bias and its masked, batch-repeated form
                for k in range(i, j):
                    bias = self._bias(k, (ws, ws), cache)
                    if mask is not None:  # (nW, heads or 1, L, L), repeated over the batch; once per shared table
                        if bias is not source:
                            source, full = bias, (mask if bias is None else bias + mask)
                            full = full.expand(n, *full.shape).reshape(-1, *full.shape[1:])
                        bias = full
                    t = self.blocks3[k](t, bias)
                x = window_unpartition(t, ws, padded, (h, w))
            else:
                t = x.reshape(n, h * w, c)
                for k in range(i, j):
                    t = self.blocks3[k](t, self._bias(k, (h, w), cache))
                x = t.view(n, h, w, c)
            i = j
        return x

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self.check_input(x)
        height, width = x.shape[-2:]
        s = self.strides[2]
        ph, pw = (s - height % s) % s, (s - width % s) % s
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        s1, s2, x = self.embed(x)
        x = self.forward_stage3(x)
        if self.out_type == 'avg_featmap':
            return (self.fc_norm(x.mean((1, 2))), )
        s3 = x.permute(0, 3, 1, 2).contiguous()
        levels = [s1, s2, s3]
        if 3 in self.out_indices:
            levels.append(self.fpn(s3) if self.downsample32 == 'conv' else F.max_pool2d(s3, 2, 2, ceil_mode=True))
        outs = []
        for i in self.out_indices:
            y = levels[i]
            if i < 2 and (ph or pw):  # crop to ceil(H / stride) x ceil(W / stride)
                st = self.strides[i]
                y = y[..., :(height + st - 1) // st, :(width + st - 1) // st].contiguous()
            outs.append(y)
        return tuple(outs)

    # ---- training API ---------------------------------------------------------------------------------------
    def _freeze_stages(self):
        if self.freeze_pos_embed:
            self.pos_embed.requires_grad = False
        if self.frozen_stages < 0:
            return
        self._freeze(self.patch_embed1)
        for i in range(1, self.frozen_stages + 1):
            self._freeze(getattr(self, f'patch_embed{i}'), getattr(self, f'blocks{i}'))
            if i == 3:
                self._freeze(self.patch_embed4, getattr(self, 'windowed_rel_pos_bias', None),
                             getattr(self, 'global_rel_pos_bias', None))
                self.pos_embed.requires_grad = False

    def get_layer_depth(self, param_name: str, prefix: str = '', decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """Official ``util/lr_decay.py`` / SEG ``LayerDecayOptimizerConstructor``: patch embeddings, ``pos_embed``
        and stages 1-2 are layer 0, ``blocks3.i`` is i + 1, the rest (tables, ``fc_norm``, ``fpn``, heads) the top:
        ``num_layers = depth3 + 2``, so the scale of layer 0 is ``rate ** (depth3 + 1)`` (0.65^12 for base).
        ``prefix`` (e.g. ``'backbone.'``) is stripped; names without it get the top id."""
        if decay_type != 'layer_wise':
            raise ValueError(f"ConvMAE supports decay_type='layer_wise' (the official scheme), got {decay_type!r}")
        num_layers = self.depths[2] + 2
        if not param_name.startswith(prefix):  # e.g. a head's parameter under mmpretrain's ImageClassifier
            return num_layers - 1, num_layers
        param_name = param_name[len(prefix):]
        if param_name.startswith(('patch_embed', 'pos_embed', 'blocks1.', 'blocks2.', 'cls_token', 'mask_token')):
            return 0, num_layers
        if param_name.startswith('blocks3.'):
            return int(param_name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

    # ---- checkpoints ----------------------------------------------------------------------------------------
    def adapt_pretrained(self, state_dict: StateDict) -> StateDict:
        """Official keys -> ours (:func:`convert_convmae_official`), then ``pos_embed`` and relative-position
        tables resized (bicubic) to this model's grid. Parameters of other ConvMAE variants that this model lacks
        (pretraining fusion convs, final ``norm``, decoder, classification ``fc_norm``) are dropped."""
        state = convert_convmae_official(state_dict, keep_pretrain=True)
        own = self.state_dict()
        check_rel_pos_variant(type(self).__name__, state, own)
        for key in list(state):
            if VARIANT_ONLY.match(key) and key not in own:
                del state[key]
        if 'pos_embed' in state and state['pos_embed'].shape != own['pos_embed'].shape:
            src = state['pos_embed']
            side = int(round(math.sqrt(src.shape[1])))
            if src.dim() == 3 and side * side == src.shape[1] and src.shape[2] == own['pos_embed'].shape[2]:
                print_log(f'ConvMAE: resizing pos_embed {side}x{side} -> {self.pos_grid[0]}x{self.pos_grid[1]}',
                          logger='current')
                state['pos_embed'] = resize_pos_embed(src, self.pos_grid, 'exact')
        for key, value in state.items():
            if key.endswith('relative_position_bias_table') and key in own and value.shape != own[key].shape \
                    and value.shape[1] == own[key].shape[1]:
                state[key] = resize_rel_pos_table(value, own[key].shape[0])
        return state


@MODELS.register_module()
class ConvMAEDet(ConvMAE):
    """The official ConvMAE detection backbone (``DET/models/convmae.py::ConvViTDet``), any input size.

    :class:`ConvMAE` with the defaults of the official Mask R-CNN: ``img_size=1024`` (``pos_embed`` of 64x64
    tokens, interpolated from the 14x14 pretraining grid on load and frozen), 16x16 windows except in blocks
    0, 3, 6, 10, two shared relative-position tables, drop path 0.1, outputs at strides 4/8/16/32 with channels
    (256, 384, 768, 768) where 1/32 is a 2x2 max-pool of 1/16. All :class:`ConvMAE` arguments are accepted.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 1024,
                 window_size: Optional[int] = 16,
                 global_attn_indexes: Sequence[int] = (0, 3, 6, 10),
                 rel_pos_bias: Optional[str] = 'shared',
                 drop_path_rate: float = 0.1,
                 freeze_pos_embed: bool = True,
                 **kwargs):
        super().__init__(arch=arch, img_size=img_size, window_size=window_size,
                         global_attn_indexes=global_attn_indexes, rel_pos_bias=rel_pos_bias,
                         drop_path_rate=drop_path_rate, freeze_pos_embed=freeze_pos_embed, **kwargs)


@MODELS.register_module()
class ConvMAEViTDet(ConvMAE):
    """The ViTDet-style ConvMAE backbone of OpenGVLab/Official-ConvMAE-Det (``projects/ConvMAEDet/modeling/
    convmae.py::ConvViT`` as ``configs/COCO/mask_rcnn_vitdet_convmae_b_25ep.py`` builds it), any input size.

    Differences from :class:`ConvMAEDet` (the Alpha-VL ``DET/`` backbone), all official:

    - stage 3 is detectron2's ViT: :class:`ViTDetBlock` with per-block *decomposed* relative position
      (``blocks3.i.attn.rel_pos_h/rel_pos_w``: (2 * 14 - 1, 64) in window blocks, (2 * 64 - 1, 64) in global blocks
      for ``img_size=1024``; tables linearly resized when the grid differs, :func:`get_rel_pos`);
    - windows of 14x14 tokens, padded with zeros *after* ``norm1`` (a 64x64 grid becomes 5x5 windows over 70x70;
      the padded tokens take part in the attention, no mask), global attention in blocks 1, 4, 7 and 10
      (``window_block_indexes=[0, 2, 3, 5, 6, 8, 9]``);
    - ``pos_embed`` stays at the 14x14 pretraining grid (``pretrain_img_size=224``, as in the checkpoints) and is
      resized bicubically (``align_corners=False``) to the current grid at every forward (detectron2
      ``get_abs_pos``); it is trained;
    - LayerNorm eps 1e-6 in the conv blocks (``norm_layer=partial(nn.LayerNorm, eps=1e-6)``; patch embeddings
      keep 1e-5);
    - only the stride-16 stage-3 map is used (``out_indices=2``: (N, 768, H / 16, W / 16)), fed to
      :class:`SimpleFeaturePyramid`;
    - layer-wise lr decay of ``get_vit_lr_decay_rate``: ``pos_embed`` is *not* at layer 0 (see
      :meth:`get_layer_depth`).

    The image is padded to a multiple of 16 like :class:`ConvMAE` (the official config pads every image to
    1024x1024, ``square_pad``). Parameter names are the official ones: the released encoder and the full
    detectors (``backbone.net.*``) load as they are.

    Args:
        arch: see :class:`ConvMAE`.
        img_size: input size the global blocks' relative-position tables are sized for (official 1024).
        pretrain_img_size: grid of the stored ``pos_embed`` (official 224, i.e. 14x14).
        window_size: window of the window blocks (official 14).
        global_attn_indexes: stage-3 blocks with global attention (official 1, 4, 7, 10).
        use_rel_pos: decomposed relative position in every stage-3 block (official True).
        out_indices: levels as in :class:`ConvMAE` (official: 2 only).
        drop_path_rate: stochastic depth, linear over all 15 blocks (official 0.1).
        conv_norm_eps / stage3_norm_eps: LayerNorm eps of the conv blocks / stage-3 blocks (official 1e-6 both).
        qkv_bias, in_channels, frozen_stages, freeze_pos_embed, with_cp, init_cfg: see :class:`ConvMAE`.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 1024,
                 pretrain_img_size: Union[int, Sequence[int]] = 224,
                 in_channels: int = 3,
                 window_size: int = 14,
                 global_attn_indexes: Sequence[int] = (1, 4, 7, 10),
                 use_rel_pos: bool = True,
                 out_indices: Union[int, Sequence[int]] = 2,
                 drop_path_rate: float = 0.1,
                 qkv_bias: bool = True,
                 conv_norm_eps: float = 1e-6,
                 stage3_norm_eps: float = 1e-6,
                 frozen_stages: int = -1,
                 freeze_pos_embed: bool = False,
                 with_cp: bool = False,
                 init_cfg=None):
        # read by _make_block3 while ConvMAE.__init__ builds stage 3 (a plain attribute, allowed before
        # nn.Module.__init__)
        self.use_rel_pos = bool(use_rel_pos)
        super().__init__(arch=arch, img_size=img_size, pretrain_img_size=pretrain_img_size, in_channels=in_channels,
                         out_indices=out_indices, window_size=window_size, global_attn_indexes=global_attn_indexes,
                         rel_pos_bias=None, qkv_bias=qkv_bias, stage3_norm_eps=stage3_norm_eps,
                         conv_norm_eps=conv_norm_eps, drop_path_rate=drop_path_rate,
                         freeze_pos_embed=freeze_pos_embed, frozen_stages=frozen_stages, with_cp=with_cp,
                         init_cfg=init_cfg)

    def _make_block3(self, index: int, drop_path: float, common: dict) -> nn.Module:
        windowed = self.windowed[index]
        rel_pos_size = None
        if self.use_rel_pos:
            rel_pos_size = (self.window_size, self.window_size) if windowed else self.img_grid
        return ViTDetBlock(self.embed_dims[2], self.num_heads, drop_path=drop_path,
                           window_size=self.window_size if windowed else 0, rel_pos_size=rel_pos_size, **common)

    def forward_stage3(self, x: torch.Tensor) -> torch.Tensor:
        """(N, h, w, C) -> (N, h, w, C); each block windows (and pads) its own normalised input."""
        for blk in self.blocks3:
            x = blk(x)
        return x

    def get_layer_depth(self, param_name: str, prefix: str = '',
                        decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """Official ``get_vit_lr_decay_rate`` (``projects/ConvMAEDet/modeling/convmae.py``, with
        ``num_layers=11``): ``patch_embed1..4``, ``blocks1`` and ``blocks2`` are layer 0, ``blocks3.i`` is i + 1,
        everything else is the top layer 12 (scale 1), **including** ``pos_embed`` (its name matches none of the
        official patterns, unlike ViTDet's ViT, where ``.pos_embed`` is layer 0). ``num_layers = depth3 + 2``, so
        ``rate ** (num_layers - 1 - layer_id)`` is the official ``rate ** (depth3 + 1 - layer_id)``."""
        if prefix and param_name.startswith(prefix):
            param_name = param_name[len(prefix):]
        if decay_type != 'layer_wise':
            raise ValueError(f"ConvMAEViTDet supports decay_type='layer_wise' (the official scheme), got "
                             f'{decay_type!r}')
        num_layers = self.depths[2] + 2
        if param_name.startswith(('patch_embed', 'blocks1.', 'blocks2.')):
            return 0, num_layers
        if param_name.startswith('blocks3.'):
            return int(param_name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers


__all__: List[str] = ['ConvMAE', 'ConvMAEDet', 'ConvMAEViTDet', 'window_partition', 'window_unpartition']
