"""Absolute position embeddings: resizing a square ``(1, S*S, C)`` table to another token grid.

Two rules are in use:

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
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import resize_pos_embed as _resize_exact

POS_EMBED_INTERP_MODES = ('official', 'exact')


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
                     num_tokens: Optional[int] = None) -> torch.Tensor:
    """(1, S*S, C) square table -> (1, h*w, C) for an ``hw`` grid with the rule ``mode``.

    ``'official'``: :func:`interpolate_pos_encoding` (``num_tokens`` as there); ``'exact'``: bicubic to
    ``size=hw``, unchanged when ``hw == (S, S)`` (``num_tokens`` is ignored).
    """
    if mode == 'official':
        return interpolate_pos_encoding(pos_embed, hw, num_tokens)
    if mode != 'exact':
        raise ValueError(f'position-embedding interpolation must be one of {POS_EMBED_INTERP_MODES}, got {mode!r}')
    side = math.isqrt(pos_embed.shape[1])
    if side * side != pos_embed.shape[1]:
        raise ValueError(f'position embedding of {pos_embed.shape[1]} tokens is not a square grid')
    return _resize_exact(pos_embed, (side, side), tuple(hw), mode='bicubic', num_extra_tokens=0)
