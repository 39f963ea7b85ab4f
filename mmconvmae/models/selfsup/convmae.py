"""ConvMAE pretraining (Gao et al., NeurIPS 2022: masked convolution + MAE) for mmpretrain, any input size.

Modules (official parameter names, so checkpoints move between pretraining and the downstream backbones):

- :class:`ConvMAEPretrainEncoder`: a :class:`ConvMAE` (same parameters) plus ``stage1_output_decode`` /
  ``stage2_output_decode`` (the multi-scale fusion convs) and the final ``norm``. ``forward(x, mask)``: the mask
  lives on the stage-3 grid (one value per 16x16 pixels) and is upsampled x2 / x4 (nearest) for stages 2 / 1;
  every conv block multiplies it after ``conv1`` so masked positions enter the 5x5 depthwise conv as zeros
  (masked convolution: stride-aligned patch embeddings and per-position layers do the rest, so masked pixels
  cannot change a visible feature); stage 3 runs on the visible tokens only; ``norm(x + fuse1(E1) + fuse2(E2))``.
- :class:`ConvMAEDecoder`: ``decoder_embed`` -> ``mask_token`` fill -> ``decoder_pos_embed`` (fixed sin-cos) ->
  8 ViT blocks (dim 512, 16 heads) -> ``decoder_norm`` -> ``decoder_pred`` (16*16*3 values per token).
- :class:`ConvMAEPretrain`: the mmpretrain algorithm: a random 75% token mask, encoder, decoder, and the
  normalized-pixel MSE on masked patches only (:class:`PixelPatchHead`, mmpretrain's ``MAEPretrainHead`` for
  rectangular images).

Unlike the official code (hard-coded 224 / 14x14 grid), any H, W divisible by 16 works: masks are made for the
current grid and the fixed sin-cos embeddings are generated for it.
"""
import warnings
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmconvmae.registry import MODELS
from ..backbones.convmae import ConvMAE, TransformerBlock
from ..convert.convmae import convert_convmae_pretrain_official  # noqa: F401  (its home before models/convert)
from ..utils.build import build_module
from ..utils.masking import random_masking
from ..utils.pos_embed import sincos_pos_embed
from .base import MaskedImageModeling, PixelPatchHead, pixel_head_cfg


def random_token_mask(batch_size: int, num_tokens: int, mask_ratio: float, device=None,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Deprecated: the official ``random_masking`` is ``mmconvmae.models.utils.random_masking(...)[0]`` ((N, L)
    float mask, 1 = masked)."""
    warnings.warn('random_token_mask is deprecated, use mmconvmae.models.utils.random_masking',
                  DeprecationWarning, stacklevel=2)
    return random_masking(batch_size, num_tokens, mask_ratio, 'uniform', device, generator)[0]


def _xavier_linears(module: nn.Module):
    """Official pretraining init: xavier-uniform Linears with zero bias (LayerNorms are already 1 / 0)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@MODELS.register_module()
class ConvMAEPretrainEncoder(ConvMAE):
    """ConvMAE encoder of pretraining: the :class:`ConvMAE` parameters (a checkpoint under ``backbone.`` loads into
    every ConvMAE backbone; the fusion convs and ``norm`` are dropped there) + the multi-scale fusion + ``norm``.

    Args:
        arch, img_size, in_channels, drop_path_rate, with_cp, init_cfg: as in :class:`ConvMAE`. ``img_size`` sets
            the stored (fixed sin-cos) ``pos_embed``; other input sizes use the sin-cos table of their grid.

    ``forward(x, mask)``: x (N, C, H, W) with H, W multiples of 16 (the stage-3 stride); mask (N, L) or
    (N, H/16, W/16), 1 = masked, the same number of visible tokens per sample (None: nothing masked).
    Returns the visible tokens (N, K, C3) in ascending token order, fused and normalised.
    """

    def __init__(self, arch: Union[str, dict] = 'base', img_size: Union[int, Tuple[int, int]] = 224,
                 in_channels: int = 3, drop_path_rate: float = 0., with_cp: bool = False, init_cfg=None):
        super().__init__(arch=arch, img_size=img_size, in_channels=in_channels, out_indices=2,
                         drop_path_rate=drop_path_rate, freeze_pos_embed=True, with_cp=with_cp, init_cfg=init_cfg)
        d1, d2, d3 = self.embed_dims
        r1, r2 = self.strides[2] // self.strides[0], self.strides[2] // self.strides[1]
        self.stage1_output_decode = nn.Conv2d(d1, d3, r1, stride=r1)
        self.stage2_output_decode = nn.Conv2d(d2, d3, r2, stride=r2)
        self.norm = nn.LayerNorm(d3, eps=1e-6)
        # official initialisation: fixed sin-cos pos_embed, xavier Linears and patch_embed3 (as a Linear)
        self.pos_embed.data.copy_(sincos_pos_embed(d3, self.pos_grid))
        _xavier_linears(self)
        w = self.patch_embed3.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    def get_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        if tuple(grid) == self.pos_grid:
            return self.pos_embed
        return sincos_pos_embed(self.embed_dims[2], grid).to(self.pos_embed)

    def mask_grid(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Validates ``x`` and ``mask``; returns the mask as (N, L) bool, True = masked."""
        self.check_input(x)
        n, _, h, w = x.shape
        s = self.strides[2]
        if h % s or w % s:
            raise ValueError(f'ConvMAE pretraining needs H and W divisible by the {s}-pixel mask unit, got {h}x{w}')
        grid = (h // s, w // s)
        if mask is None:
            return torch.zeros(n, grid[0] * grid[1], dtype=torch.bool, device=x.device)
        if tuple(mask.shape) not in ((n, grid[0] * grid[1]), (n, *grid)):
            raise ValueError(f'mask must have one value per {s}x{s} pixels: shape (N, {grid[0] * grid[1]}) or '
                             f'(N, {grid[0]}, {grid[1]}) for input {tuple(x.shape)}, got {tuple(mask.shape)}')
        mask = mask.reshape(n, -1).bool()
        counts = (~mask).sum(1)
        if not bool((counts == counts[0]).all()) or int(counts[0]) == 0:
            raise ValueError(f'every sample needs the same, non-zero number of visible tokens, got {counts.tolist()}')
        return mask

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        mask = self.mask_grid(x, mask)
        n, _, h, w = x.shape
        gh, gw = h // self.strides[2], w // self.strides[2]
        visible = (~mask).view(n, 1, gh, gw).to(x.dtype)
        scales = (self.strides[2] // self.strides[0], self.strides[2] // self.strides[1])
        masks = [visible.repeat_interleave(r, 2).repeat_interleave(r, 3) for r in scales]
        s1, s2, tokens = self.embed(x, masks)
        ids_keep = (~mask).nonzero()[:, 1].view(n, -1)

        def visible_rows(t: torch.Tensor) -> torch.Tensor:  # (N, L, C) -> (N, K, C)
            return torch.gather(t, 1, ids_keep[..., None].expand(-1, -1, t.shape[-1]))

        t = visible_rows(tokens.reshape(n, gh * gw, -1))
        for blk in self.blocks3:
            t = blk(t)
        fused = visible_rows(self.stage1_output_decode(s1).flatten(2).transpose(1, 2)) + visible_rows(
            self.stage2_output_decode(s2).flatten(2).transpose(1, 2))
        return self.norm(t + fused)


@MODELS.register_module()
class ConvMAEDecoder(BaseModule):
    """The MAE decoder of ConvMAE (official names): (N, K, C_in) visible tokens + mask -> (N, L, patch^2 * 3).

    Args:
        in_channels: encoder width (768 for base).
        embed_dim, depth, num_heads, mlp_ratio: decoder ViT (official 512, 8, 16, 4).
        patch_size: pixels per token side (the encoder's stage-3 stride, 16).
        out_channels: image channels.
        grid: the stored ``decoder_pos_embed`` grid (14x14 at 224); other grids use their own sin-cos table.
    """

    def __init__(self, in_channels: int = 768, embed_dim: int = 512, depth: int = 8, num_heads: int = 16,
                 mlp_ratio: float = 4., patch_size: int = 16, out_channels: int = 3,
                 grid: Tuple[int, int] = (14, 14), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.grid = tuple(grid)
        self.decoder_embed = nn.Linear(in_channels, embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.decoder_pos_embed = nn.Parameter(sincos_pos_embed(embed_dim, self.grid), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.decoder_norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(embed_dim, patch_size**2 * out_channels)
        _xavier_linears(self)
        nn.init.normal_(self.mask_token, std=.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """x (N, K, C_in) visible tokens in ascending order; mask (N, L) 1 = masked; grid (h, w), L = h * w."""
        x = self.decoder_embed(x)
        n, length = mask.shape
        tokens = self.mask_token.to(x.dtype).expand(n, length, -1).clone()
        tokens[mask == 0] = x.reshape(-1, x.shape[-1])
        pos = self.decoder_pos_embed if tuple(grid) == self.grid else sincos_pos_embed(x.shape[-1], grid).to(x)
        x = tokens + pos
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))


@MODELS.register_module()
class ConvMAEPretrain(MaskedImageModeling):
    """ConvMAE masked-autoencoder pretraining for mmpretrain
    (docs/convmae.md#pretraining-mmconvmaeconvmaepretrain-mmpretrain).

    ``loss``: a random mask of ``mask_ratio`` of the stage-3 tokens per image
    (:func:`~mmconvmae.models.utils.random_masking`, the official ``random_masking``; one token = one 16x16 block,
    upsampled to 4x4 / 2x2 positions of stages 1 / 2), the encoder (:class:`ConvMAEPretrainEncoder`), the decoder
    (:class:`ConvMAEDecoder`) and the head, by default :class:`PixelPatchHead` with ``norm_pix=True``: MSE against
    per-patch normalised pixels, averaged over the masked patches only.

    Parameter names: ``backbone.*`` (the encoder: ``prefix='backbone.'`` loads it into the detection,
    segmentation and classification backbones), ``neck.*`` (the official decoder names).

    Args:
        backbone: :class:`ConvMAEPretrainEncoder` kwargs (``type`` optional) or module.
        neck: :class:`ConvMAEDecoder` kwargs or module; ``in_channels``, ``patch_size`` and ``grid`` default to the
            encoder's.
        head: loss head; default ``PixelPatchHead(norm_pix=True, patch_size=16, L2)``.
        mask_ratio: fraction of tokens masked, in [0, 1) (official 0.75).
        data_preprocessor: default ``SelfSupDataPreprocessor``.

    Input: (N, 3, H, W), H and W multiples of 16 (224 in the official recipe; any size works).
    """
    official_mask_ratio = 0.75

    def mask_patch_size(self) -> int:
        return self.backbone.strides[2]

    def build_parts(self, backbone, neck, head) -> tuple:
        backbone = build_module(backbone, ConvMAEPretrainEncoder, 'ConvMAEPretrain backbone', strict=True)
        patch = backbone.strides[2]
        neck = build_module({} if neck is None else neck, ConvMAEDecoder, 'ConvMAEPretrain neck',
                            defaults=dict(in_channels=backbone.embed_dims[2], patch_size=patch, grid=backbone.pos_grid))
        head = build_module(pixel_head_cfg(patch) if head is None else head, PixelPatchHead, 'ConvMAEPretrain head')
        return backbone, neck, head

    def decode(self, latent: torch.Tensor, mask: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(N, L, 16*16*3) predictions: the decoder needs the token grid of the images."""
        return self.neck(latent, mask, self.grid(images))
