"""Absolute position embeddings: the fixed 2-D sin-cos table, and resizing a ``(1, S_h*S_w, C)`` table to another
token grid.

Sin-cos (:func:`sincos_pos_embed`): two layouts of the same four blocks of channels are in use, and they differ by
up to 2.0 (the halves are swapped):

- ``'xy'``: ``[sin(x w), cos(x w), sin(y w), cos(y w)]`` with x the column and y the row of a row-major token grid.
  This is MAE's ``get_2d_sincos_pos_embed`` (``np.meshgrid(grid_w, grid_h)``, ``emb_h`` from ``grid[0]``, which
  holds the column coordinate), copied as ``util/pos_embed.py`` into github:Alpha-VL/ConvMAE (pretraining
  ``pos_embed`` / ``decoder_pos_embed``, ``models_convmae.py`` L78-82) and github:sunsmarterjie/iTPN
  (``itpn_pixel/util/pos_embed.py``, used for ``absolute_pos_embed`` / ``decoder_pos_embed`` in
  ``itpn_pixel/models/models_itpn_mim.py`` L184-188). Both families use it.
- ``'yx'``: the rows first, ``[sin(y w), cos(y w), sin(x w), cos(x w)]``: MoCo v3's
  ``build_2d_sincos_position_embedding``, as in :func:`mmpretrain.models.utils.build_2d_sincos_position_embedding`
  (and the official ConvMAE ``DET/models/convmae.py`` L587-606, whose result is never assigned) for square grids.

Resizing, two rules:

- ``'official'``: the DINO-style ``interpolate_pos_encoding`` of the official iTPN / HiViT code
  (github:sunsmarterjie/iTPN, ``itpn_pixel/models/models_itpn.py`` L318-335; identical in
  ``itpn_clip/modeling_pretrain.py`` L208-225, ``itpn_clip/modeling_finetune.py`` L304-321,
  ``det/mmdet/models/backbones/iTPN_pixel.py`` L314-331, ``det/mmdet/models/backbones/iTPN_CLIP.py`` L371-388 and
  ``seg/backbone/iTPN.py`` L330-347). The table is kept only when the number of tokens it is added to equals
  its length and the grid is square; otherwise it is resized bicubically with
  ``scale_factor=((h + 0.1) / S, (w + 0.1) / S)``. torch maps output to input coordinates with that scale
  factor (``src = (dst + 0.5) * S / (h + 0.1) - 0.5``), not with ``S / h``, so the result differs from a resize
  to ``size=(h, w)``; and since the token count compared is the number of *kept* tokens, a masked-pretraining
  forward resizes the table even at the training grid (to the same size, values slightly shifted).
- ``'exact'``: a bicubic resize to exactly ``size=(h, w)`` (``align_corners=False``), the table as is when
  the grid matches; this is :func:`mmpretrain.models.utils.resize_pos_embed` (also what the official
  fine-tuning scripts use when they resize a checkpoint's table to a new ``img_size``).

Both return the dtype of the table (half-precision tables are resized in fp32).
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import resize_pos_embed as _resize_exact

POS_EMBED_INTERP_MODES = ('official', 'exact')
SINCOS_LAYOUTS = ('xy', 'yx')


def sincos_pos_embed(embed_dims: int, grid: Sequence[int], layout: str = 'xy',
                     temperature: float = 10000.) -> torch.Tensor:
    """The fixed 2-D sin-cos position embedding (1, h*w, embed_dims) of a row-major ``grid`` = (h, w), in float32.

    Per axis the channels are ``sin(p w_k), cos(p w_k)`` with ``w_k = temperature^-(k / (embed_dims / 4))``,
    k < embed_dims / 4; ``layout`` orders the axes (see the module docstring): ``'xy'`` (MAE, ConvMAE and iTPN
    pretraining) puts the column coordinate first, ``'yx'`` (MoCo v3 / mmpretrain) the row coordinate. Computed
    in float64 like the official numpy code, then rounded.
    """
    if layout not in SINCOS_LAYOUTS:
        raise ValueError(f'sin-cos layout must be one of {SINCOS_LAYOUTS}, got {layout!r}')
    if embed_dims % 4:
        raise ValueError(f'sin-cos position embedding needs a dim divisible by 4, got {embed_dims}')
    h, w = grid
    omega = 1. / temperature**(torch.arange(embed_dims // 4, dtype=torch.float64) / (embed_dims / 4.))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing='ij')
    ox, oy = xs.reshape(-1, 1) * omega, ys.reshape(-1, 1) * omega
    first, second = (ox, oy) if layout == 'xy' else (oy, ox)
    return torch.cat([first.sin(), first.cos(), second.sin(), second.cos()], dim=1).float()[None]


def interpolate_pos_encoding(pos_embed: torch.Tensor, hw: Tuple[int, int],
                             num_tokens: Optional[int] = None) -> torch.Tensor:
    """Official iTPN ``interpolate_pos_encoding`` (see the module docstring).

    Args:
        pos_embed: (1, S*S, C) table of a square S x S grid.
        hw: (h, w) token grid of the input.
        num_tokens: number of tokens the table is added to (the kept units in masked pretraining);
            defaults to ``h * w``.

    Returns:
        (1, h*w, C) table, in the dtype of ``pos_embed``.
    """
    _, N, C = pos_embed.shape
    h, w = hw
    num_tokens = h * w if num_tokens is None else num_tokens
    # ``h * w == N`` only adds a guard: with masking at another grid the kept count can equal N by chance; the
    # official code then returns the unresized table, and its gather over the h*w grid fails
    if num_tokens == N and h == w and h * w == N:
        return pos_embed
    side = math.isqrt(N)
    if side * side != N:
        raise ValueError(f'position embedding of {N} tokens is not a square grid')
    grid = pos_embed.reshape(1, side, side, C).permute(0, 3, 1, 2)
    # the official code passes scale_factor, never size: the +0.1 shifts the sampling positions
    if grid.dtype not in (torch.float32, torch.float64):  # half types: bicubic in fp32
        grid = grid.float()
    out = F.interpolate(grid, scale_factor=((h + 0.1) / math.sqrt(N), (w + 0.1) / math.sqrt(N)),
                        mode='bicubic')
    if out.shape[-2:] != (h, w):
        raise RuntimeError(f'official position-embedding resize gave a {tuple(out.shape[-2:])} grid for {(h, w)}')
    return out.permute(0, 2, 3, 1).reshape(1, h * w, C).to(pos_embed.dtype)


def resize_pos_embed(pos_embed: torch.Tensor, hw: Tuple[int, int], mode: str = 'official',
                     num_tokens: Optional[int] = None, src_hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """(1, S_h*S_w, C) table -> (1, h*w, C) for an ``hw`` grid with the rule ``mode``.

    ``'official'``: :func:`interpolate_pos_encoding` (square tables; ``num_tokens`` as there). ``'exact'``: bicubic
    to ``size=hw`` (``align_corners=False``, fp32 inside, the table's dtype out), unchanged when ``hw`` is the
    table's grid ``src_hw`` (default: square); ``num_tokens`` is ignored. ``'exact'`` is
    ``mmpretrain.models.utils.resize_pos_embed(..., num_extra_tokens=0)``, and also detectron2's ``get_abs_pos``
    without cls token (Official-ConvMAE-Det) and the checkpoint resize of the official ConvMAE DET / SEG loaders.
    """
    if mode == 'official':
        if src_hw is not None and src_hw[0] != src_hw[1]:
            raise ValueError(f"the official rule resizes square tables only, got a {src_hw[0]}x{src_hw[1]} grid")
        return interpolate_pos_encoding(pos_embed, hw, num_tokens)
    if mode != 'exact':
        raise ValueError(f'position-embedding interpolation must be one of {POS_EMBED_INTERP_MODES}, got {mode!r}')
    if src_hw is None:
        side = math.isqrt(pos_embed.shape[1])
        if side * side != pos_embed.shape[1]:
            raise ValueError(f'position embedding of {pos_embed.shape[1]} tokens is not a square grid')
        src_hw = (side, side)
    return _resize_exact(pos_embed, tuple(src_hw), tuple(hw), mode='bicubic', num_extra_tokens=0)
