"""FCMAE: ConvNeXt V2 masked-autoencoder pretraining (Woo et al., CVPR 2023) without MinkowskiEngine.

Modules (official parameter names, so checkpoints move between pretraining, fine-tuning and det/seg):

- :class:`FCMAEConvNeXtV2`: the encoder. A :class:`ConvNeXtV2` (same parameters and names, no output norm, like
  the official ``SparseConvNeXtV2``) whose ``forward(x, mask)`` computes what the official sparse encoder
  computes, with dense PyTorch ops on the visible positions only.
- :class:`FCMAEDecoder`: ``proj`` 1x1 -> ``mask_token`` fill -> ``decoder`` (one ConvNeXt V2 block, dim 512)
  -> ``pred`` 1x1 to 32*32*3 values per cell.
- :class:`FCMAE`: the mmpretrain algorithm: random cell mask, encoder, decoder and the normalized-pixel MSE on
  masked patches only (mmpretrain's ``MAEPretrainHead``, which is exactly the official ``forward_loss``).

Initialisation (docs/convnext_v2.md#initialisation-of-the-pretraining-model, decided deliberately): every
Conv2d/Linear gets trunc-normal std .02 and zero
bias, LayerNorms 1/0, GRN gamma/beta 0 and ``mask_token`` normal std .02. This is the dense ConvNeXt V2 init
(what the fine-tuned/det/seg models use). The official PyTorch ``FCMAE._init_weights`` instead re-initialises
the stem, the encoder depthwise/pointwise layers and every decoder Conv2d with timm's ``trunc_normal_``
*default* std 1.0 (only the downsampling convs get .02, the decoder Linears keep PyTorch's default); that reads
as an accident of a missing ``std=`` argument, and the paper's results come from the JAX/TPU code, not from
that path, so we do not reproduce it.
"""
import warnings
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmpretrain.models.heads import MAEPretrainHead

from mmconvmae.registry import MODELS
from ..backbones.convnext_v2 import ConvNeXtV2, ConvNeXtV2Block
from ..convert.convnext_v2 import convert_fcmae_official  # noqa: F401  (its home before models/convert)
from ..utils.build import build_module
from ..utils.masking import random_masking
from .base import MaskedImageModeling, pixel_head_cfg


def gen_random_mask(batch_size: int, num_cells: int, mask_ratio: float, device=None,
                    generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Deprecated: the official ``FCMAE.gen_random_mask`` is
    ``mmconvmae.models.utils.random_masking(..., noise='normal')[0]`` ((N, L) float mask, 1 = masked)."""
    warnings.warn("gen_random_mask is deprecated, use mmconvmae.models.utils.random_masking(..., noise='normal')",
                  DeprecationWarning, stacklevel=2)
    return random_masking(batch_size, num_cells, mask_ratio, 'normal', device, generator)[0]


class VisibleLayout:
    """Where the rows of the compact visible features sit on each stage's grid.

    The compact features of stage s are (N, K_s, C) with ``K_s = keep * side_s^2``: for every sample its
    ``keep`` visible cells (ascending cell index), each as ``side_s x side_s`` pixels in row-major order
    (``side_s`` = 8, 4, 2, 1 at strides 4, 8, 16, 32). Every stride-2 window lies inside one cell.

    Depthwise convs (k x k, padding k//2) either run on a zero canvas of the whole map (:meth:`dwconv`
    ``'canvas'``), or, where cells are large, on each visible cell with its halo of ``k//2`` pixels cut from a
    padded canvas (``'window'``): the conv then computes only visible outputs.

    Args:
        keep_cells: (N, keep) long, indices of the visible cells on the (grid_h, grid_w) mask grid.
        grid: (grid_h, grid_w), the mask grid = (H / 32, W / 32).
        num_stages: number of stages (4).
        halo: k // 2 of the depthwise conv (3).
        window_min_side: use windows at the stages whose cell side is at least this.
    """

    def __init__(self, keep_cells: torch.Tensor, grid: Tuple[int, int], num_stages: int = 4, halo: int = 3,
                 window_min_side: int = 8):
        self.batch, self.keep = keep_cells.shape
        self.grid = grid
        self.halo = halo
        gh, gw = grid
        device = keep_cells.device
        cy, cx = (keep_cells // gw)[..., None, None], (keep_cells % gw)[..., None, None]
        batch_ids = torch.arange(self.batch, device=device)[:, None, None, None]
        #: per stage: cell side, (H_s, W_s), (N*K_s,) indices into the flat (N*H_s*W_s) map
        self.sides: List[int] = []
        self.shapes: List[Tuple[int, int]] = []
        self.flat_index: List[torch.Tensor] = []
        #: per stage (None where the canvas is used): indices into the flat padded map of the visible rows
        #: and of every cell's (side + 2 halo)^2 window
        self.padded_index: List[Optional[torch.Tensor]] = []
        self.window_index: List[Optional[torch.Tensor]] = []
        side = 2**(num_stages - 1)
        for _ in range(num_stages):
            h, w = gh * side, gw * side
            ys = torch.arange(side, device=device)[:, None]
            xs = torch.arange(side, device=device)[None, :]
            y, x = cy * side + ys, cx * side + xs  # (N, keep, side, side)
            self.sides.append(side)
            self.shapes.append((h, w))
            self.flat_index.append(((batch_ids * h + y) * w + x).reshape(-1))
            if side >= window_min_side:
                hp, wp = h + 2 * halo, w + 2 * halo
                self.padded_index.append(((batch_ids * hp + y + halo) * wp + x + halo).reshape(-1))
                wy = torch.arange(side + 2 * halo, device=device)[:, None]
                wx = torch.arange(side + 2 * halo, device=device)[None, :]
                self.window_index.append(((batch_ids * hp + cy * side + wy) * wp + cx * side + wx).reshape(-1))
            else:
                self.padded_index.append(None)
                self.window_index.append(None)
            side //= 2

    def scatter(self, x: torch.Tensor, stage: int) -> torch.Tensor:
        """(N, K_s, C) compact -> (N, C, H_s, W_s) (channels-last memory), zeros at masked positions."""
        h, w = self.shapes[stage]
        c = x.shape[-1]
        canvas = x.new_zeros(self.batch * h * w, c).index_copy_(0, self.flat_index[stage], x.reshape(-1, c))
        return canvas.view(self.batch, h, w, c).permute(0, 3, 1, 2)

    def gather(self, x: torch.Tensor, stage: int) -> torch.Tensor:
        """(N, C, H_s, W_s) -> (N, K_s, C), the visible positions in compact order."""
        c = x.shape[1]
        rows = x.permute(0, 2, 3, 1).reshape(-1, c).index_select(0, self.flat_index[stage])
        return rows.view(self.batch, -1, c)

    def dwconv(self, conv: nn.Conv2d, x: torch.Tensor, stage: int) -> torch.Tensor:
        """Depthwise ``conv`` (padding = halo) of the compact rows (N, K_s, C), masked positions read as zeros;
        returns the compact rows of the output."""
        if self.window_index[stage] is None:
            return self.gather(conv(self.scatter(x, stage)), stage)
        h, w = self.shapes[stage]
        n, _, c = x.shape
        size = self.sides[stage] + 2 * self.halo
        padded = x.new_zeros(n * (h + 2 * self.halo) * (w + 2 * self.halo), c)
        padded = padded.index_copy_(0, self.padded_index[stage], x.reshape(-1, c))
        windows = padded.index_select(0, self.window_index[stage]).view(n * self.keep, size, size, c)
        out = F.conv2d(windows.permute(0, 3, 1, 2), conv.weight, conv.bias, conv.stride, 0, conv.dilation,
                       conv.groups)  # (N * keep, C, side, side), only the visible outputs
        return out.permute(0, 2, 3, 1).reshape(n, -1, c)


@MODELS.register_module()
class FCMAEConvNeXtV2(ConvNeXtV2):
    """FCMAE encoder: ConvNeXt V2 on masked input, equivalent to the official MinkowskiEngine sparse encoder.

    Same parameters and parameter names as :class:`ConvNeXtV2` (``downsample_layers.*``, ``stages.*``) and, like
    the official ``SparseConvNeXtV2``, no output norm; a checkpoint of this encoder under ``backbone.`` loads
    into every ConvNeXt V2 detection/segmentation/classification backbone.

    ``forward(x, mask)`` follows the official sparse encoder (docs/convnext_v2.md#the-masked-encoder): the mask
    (one value per 32-px cell,
    1 = masked) is applied after the stem and kept at every stage, and a masked position takes no part in any
    computation: depthwise convs see zeros there (missing sparse coordinates), LayerNorm is per position, the
    stride-2 downsampling windows never straddle a cell edge, GRN statistics are taken over visible positions
    only, and each block output is masked before the residual. The output is the dense map
    (N, C3, H/32, W/32) with zeros at masked cells (``x.dense()``). (``to_sparse`` would also drop a visible
    position whose stem output is exactly zero in every channel; we keep it, a measure-zero difference.)

    Implementation: features live only at visible positions, as compact (N, K_s, C) tensors (see
    :class:`VisibleLayout`): the stem (4x4/4 conv) is a Linear on the visible 4x4 patches; LN, pwconv1, GELU,
    GRN and pwconv2 run on the visible rows only; the 2x2/2 downsampling is a Linear on each 2x2 window; the
    7x7 depthwise conv runs per visible cell with its 3-pixel halo at stage 0 (8x8-pixel cells) and on the
    zero-filled map at the coarser stages. So nearly all the work scales with the visible fraction, and no
    mask multiply is needed anywhere. This needs the same number of visible cells in every sample (true for
    :func:`~mmconvmae.models.utils.random_masking`); other masks fall back to the dense masked computation (every
    position computed, masked ones zeroed after each layer; same results with ``grn_stats='sample'``).

    Args:
        arch, in_channels, drop_path_rate, frozen_stages, with_cp, init_cfg: as in :class:`ConvNeXtV2`.
        grn_stats: ``'sample'`` (default): GRN statistics per sample over its visible positions, the semantics
            of the dense model and of the JAX/TPU code that produced the paper's results. ``'batch'``: over the
            visible positions of the whole batch, like ``MinkowskiGRN`` of the official PyTorch code
            (ConvNeXt-V2#86; needs equal visible counts per sample).

    Input: x (N, in_channels, H, W), H and W multiples of 32; mask (N, H/32 * W/32) or (N, H/32, W/32),
    1 = masked. ``mask=None`` runs the full image (the plain backbone without output norm).
    Output: (N, C3, H/32, W/32).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 in_channels: int = 3,
                 drop_path_rate: float = 0.,
                 grn_stats: str = 'sample',
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg=None):
        if grn_stats not in ('sample', 'batch'):
            raise ValueError(f"grn_stats must be 'sample' (per-sample statistics, dense/JAX semantics) or "
                             f"'batch' (batch-global, MinkowskiGRN semantics), got {grn_stats!r}")
        super().__init__(
            arch=arch,
            in_channels=in_channels,
            drop_path_rate=drop_path_rate,
            out_indices=(),  # no output norm, as the official sparse encoder
            out_type='featmap',
            frozen_stages=frozen_stages,
            with_cp=with_cp,
            init_cfg=init_cfg)
        self.grn_stats = grn_stats
        #: depthwise convs run per visible cell (with halo) where cells are at least this wide (stage 0 at 8),
        #: on the whole zero-filled map elsewhere; both give the same result, this is only about speed
        self.window_min_side = 8

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return (self.dims[-1], )

    # ---- inputs -------------------------------------------------------------------------------------------
    def _mask_grid(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Validates ``mask`` against ``x`` and returns it as a (N, H/32, W/32) bool tensor (True = masked)."""
        n, _, h, w = x.shape
        grid = (h // self.stride, w // self.stride)
        if mask.dim() == 2 and mask.shape == (n, grid[0] * grid[1]):
            mask = mask.view(n, *grid)
        if tuple(mask.shape) != (n, *grid):
            raise ValueError(f'mask must have one value per {self.stride}x{self.stride} cell: shape '
                             f'(N, {grid[0] * grid[1]}) or (N, {grid[0]}, {grid[1]}) for input '
                             f'{tuple(x.shape)}, got {tuple(mask.shape)}')
        return mask.bool()

    # ---- forward ------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        self.check_input(x)
        if mask is None:
            return self._forward_full(x)
        mask = self._mask_grid(x, mask)
        visible_cells = (~mask).flatten(1)
        counts = visible_cells.sum(1)
        if bool((counts == counts[0]).all()):
            keep_cells = visible_cells.nonzero()[:, 1].view(x.shape[0], -1)
            layout = VisibleLayout(keep_cells, mask.shape[1:], len(self.stages), self.stages[0][0].dwconv.padding[0],
                                   self.window_min_side)
            return self._forward_sparse(x, layout)
        if self.grn_stats == 'batch':
            raise ValueError("grn_stats='batch' needs the same number of visible cells in every sample, got "
                             f'{counts.tolist()}')
        return self._forward_dense_masked(x, mask)

    def _forward_full(self, x: torch.Tensor) -> torch.Tensor:
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = stage(downsample(x))
        return x

    def _forward_dense_masked(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Every position computed, masked ones zeroed after each layer (the paper's "dense masked conv")."""
        visible = (~mask)[:, None].to(x.dtype)
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = downsample(x)
            scale = x.shape[-1] // visible.shape[-1]
            vis = visible.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
            x = x * vis
            for block in stage:
                x = block(x, vis)
        return x

    def _forward_sparse(self, x: torch.Tensor, layout: VisibleLayout) -> torch.Tensor:
        x = self._stem_visible(x, layout)
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self._downsample_visible(self.downsample_layers[i], x, layout.sides[i - 1])
            for block in stage:
                if block.with_cp and x.requires_grad:
                    x = cp.checkpoint(self._block_visible, block, x, layout, i, use_reentrant=False)
                else:
                    x = self._block_visible(block, x, layout, i)
        return layout.scatter(x, len(self.stages) - 1).contiguous()

    def _stem_visible(self, x: torch.Tensor, layout: VisibleLayout) -> torch.Tensor:
        """Stem (Conv 4x4/4 + LN) on the visible 4x4 patches only: (N, C_in, H, W) -> (N, K_0, C0)."""
        conv, norm = self.downsample_layers[0]
        n, c, h, w = x.shape
        k = conv.kernel_size[0]
        patches = x.view(n, c, h // k, k, w // k, k).permute(0, 2, 4, 1, 3, 5).reshape(-1, c * k * k)
        patches = patches.index_select(0, layout.flat_index[0]).view(n, -1, c * k * k)
        x = F.linear(patches, conv.weight.reshape(conv.out_channels, -1), conv.bias)
        return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)

    @staticmethod
    def _downsample_visible(layer: nn.Sequential, x: torch.Tensor, side: int) -> torch.Tensor:
        """LN + Conv 2x2/2 on compact rows of cells of ``side x side`` pixels, as a Linear on each 2x2 window.
        (N, K, C) -> (N, K/4, C')."""
        norm, conv = layer
        n, k, c = x.shape
        half = side // 2
        x = F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        windows = x.view(-1, half, 2, half, 2, c).permute(0, 1, 3, 2, 4, 5).reshape(n, k // 4, 4 * c)
        weight = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, 4 * c)  # (C', [dy, dx, C])
        return F.linear(windows, weight, conv.bias)

    def _block_visible(self, block: ConvNeXtV2Block, x: torch.Tensor, layout: VisibleLayout,
                       stage: int) -> torch.Tensor:
        """One ConvNeXt V2 block on compact rows (N, K, C) -> (N, K, C)."""
        n, k, c = x.shape
        y = layout.dwconv(block.dwconv, x, stage)
        y = block.act(block.pwconv1(block.norm(y)))
        # GRN reduces over dims 1, 2 of (N, H, W, C): per sample over its visible rows, or over the batch
        y = block.grn(y.view(n, k, 1, -1) if self.grn_stats == 'sample' else y.view(1, n * k, 1, -1))
        y = block.pwconv2(y.view(n, k, -1))
        return x + block.drop_path(y)


@MODELS.register_module()
class FCMAEDecoder(nn.Module):
    """FCMAE decoder (official names): ``proj`` (1x1 conv C3 -> embed_dim), ``mask_token`` written at masked
    cells, ``decoder`` (``depth`` ConvNeXt V2 blocks at embed_dim, no drop path), ``pred`` (1x1 conv to
    patch_size^2 * in_channels).

    Input: x (N, C3, h, w) encoder output, mask (N, h*w) 1 = masked.
    Output: (N, h*w, patch_size^2 * in_channels), per cell the pixels in (row, col, channel) order.
    """

    def __init__(self, in_channels: int = 1024, embed_dim: int = 512, depth: int = 1, patch_size: int = 32,
                 out_channels: int = 3):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=1)
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim, 1, 1))
        self.decoder = nn.Sequential(*[ConvNeXtV2Block(embed_dim, drop_path=0.) for _ in range(depth)])
        self.pred = nn.Conv2d(embed_dim, patch_size**2 * out_channels, kernel_size=1)
        self.apply(ConvNeXtV2._init_module)
        nn.init.normal_(self.mask_token, std=.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        x = self.proj(x)
        mask = mask.reshape(n, 1, h, w).to(x.dtype)
        x = x * (1. - mask) + self.mask_token.to(x.dtype) * mask
        x = self.pred(self.decoder(x))
        return x.flatten(2).transpose(1, 2)


@MODELS.register_module()
class FCMAE(MaskedImageModeling):
    """Fully convolutional masked autoencoder (ConvNeXt V2, docs/convnext_v2.md#fcmae-pretraining) for mmpretrain.

    ``loss``: a random mask of ``mask_ratio`` of the 32x32 cells per image
    (:func:`~mmconvmae.models.utils.random_masking` with normal noise, the official ``gen_random_mask``), the
    masked encoder (:class:`FCMAEConvNeXtV2`), the decoder (:class:`FCMAEDecoder`) and the head, by default
    mmpretrain's ``MAEPretrainHead`` with ``norm_pix=True``: per-patch normalised pixels (unbiased variance,
    eps 1e-6), MSE averaged over each patch's 3072 values, then over the masked patches only.

    Parameter names: ``backbone.*`` (the encoder, so ``prefix='backbone.'`` loads it into det/seg
    backbones), ``neck.{proj, mask_token, decoder, pred}.*`` (official names under ``neck.``).

    Args:
        backbone: :class:`FCMAEConvNeXtV2` kwargs (``type`` optional) or module.
        neck: :class:`FCMAEDecoder` kwargs or module; ``in_channels`` defaults to the encoder's C3.
        head: loss head; default ``MAEPretrainHead(norm_pix=True, patch_size=32, L2)``.
        mask_ratio: fraction of cells masked, in [0, 1) (official 0.6).
        data_preprocessor: default ``SelfSupDataPreprocessor``.

    Input: (N, 3, H, H) with H a multiple of 32 (square, as the official ``patchify`` requires).
    """
    official_mask_ratio = 0.6
    mask_noise = 'normal'  # official gen_random_mask: torch.randn
    mask_unit = 'cell'
    square_images = True

    def mask_patch_size(self) -> int:
        return self.backbone.stride

    def build_parts(self, backbone, neck, head) -> tuple:
        backbone = build_module(backbone, FCMAEConvNeXtV2, 'FCMAE backbone', strict=True)
        neck = build_module({} if neck is None else neck, FCMAEDecoder, 'FCMAE neck',
                            defaults=dict(in_channels=backbone.dims[-1]))
        head = build_module(pixel_head_cfg(backbone.stride) if head is None else head, MAEPretrainHead, 'FCMAE head')
        return backbone, neck, head
