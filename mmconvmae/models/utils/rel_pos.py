"""Relative position: BEiT-style bias tables and decomposed (MViTv2 / ViTDet) per-axis tables.

BEiT-style (ConvMAE DET / SEG, HiViT / iTPN): a ((2 S_h - 1)(2 S_w - 1), heads) table read at the offset
``query - key`` of two tokens, row-major ``dy * (2 S_w - 1) + dx`` (+ S - 1 per axis), as the official
``relative_position_index`` buffers (BEiT; github:sunsmarterjie/iTPN ``itpn_pixel/models/models_itpn.py``
L191-205; github:Alpha-VL/ConvMAE ``DET/models/convmae.py``): :func:`relative_position_index`,
:func:`relative_position_bias` and, for checkpoints, :func:`resize_rel_pos_table`.

Decomposed: one learnable table per axis and block.

The attention logit between a query at (qy, qx) and a key at (ky, kx) gets ``q . Rh[qy, ky] + q . Rw[qx, kx]``
where ``Rh`` / ``Rw`` are read from the per-axis tables ``rel_pos_h`` (2 S_h - 1, head_dim) and ``rel_pos_w``
(2 S_w - 1, head_dim) at the offset ``query - key`` (+ S - 1). The functions follow detectron2
``modeling/backbone/utils.py`` (``get_rel_pos``, ``add_decomposed_rel_pos``; the same code is in
OpenGVLab/Official-ConvMAE-Det), including the linear resize of a table whose length does not fit the grid.
"""
import math
from functools import lru_cache
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F


@lru_cache(maxsize=8)
def relative_position_index(h: int, w: int, span: Union[int, Tuple[int, int]],
                            device: Optional[torch.device] = None) -> torch.Tensor:
    """(h*w, h*w) long indices into a ((2 S_h - 1)(2 S_w - 1), heads) table (``span`` = S or (S_h, S_w), the grid
    the table covers, at least (h, w)) for the ``query - key`` offsets of an h x w grid, as the official BEiT /
    HiViT buffer. Cached: the result is shared, never modify it in place."""
    span_h, span_w = (span, span) if isinstance(span, int) else span
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + span_h - 1
    dx = xs[:, None] - xs[None, :] + span_w - 1
    return dy * (2 * span_w - 1) + dx


def relative_position_bias(table: torch.Tensor, size: Tuple[int, int], grid: Tuple[int, int]) -> torch.Tensor:
    """Bias (heads, h*w, h*w) of a ((2 S_h - 1)(2 S_w - 1), heads) table (``size`` = (S_h, S_w)) for attention over
    an h x w ``grid``. A grid up to the table's size reads the exact offsets; a larger grid reads a bicubically
    enlarged table."""
    (sh, sw), (h, w) = size, grid
    heads = table.shape[1]
    t = table.t().reshape(heads, 2 * sh - 1, 2 * sw - 1)
    if h > sh or w > sw:
        sh, sw = max(h, sh), max(w, sw)
        t = F.interpolate(t[None], size=(2 * sh - 1, 2 * sw - 1), mode='bicubic', align_corners=False)[0]
    index = relative_position_index(h, w, (sh, sw), table.device)
    return t.reshape(heads, -1)[:, index.flatten()].view(heads, h * w, h * w)


def resize_rel_pos_table(table: torch.Tensor, new_len: int) -> torch.Tensor:
    """((2a-1)^2, heads) -> ((2b-1)^2, heads), bicubic on the square offset grid (``align_corners=False``, fp32
    inside, the table's dtype out), for checkpoints of another resolution."""
    old, new = math.isqrt(table.shape[0]), math.isqrt(new_len)
    if old * old != table.shape[0] or new * new != new_len:
        raise ValueError(f'cannot resize a relative-position table of {table.shape[0]} rows to {new_len}: '
                         'only square tables are resized')
    t = table.t().reshape(1, -1, old, old).float()
    t = F.interpolate(t, size=(new, new), mode='bicubic', align_corners=False)
    return t.reshape(-1, new * new).t().to(table.dtype).contiguous()


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Per-axis relative-position embeddings (q_size, k_size, C) for query / key sizes along one axis.

    ``rel_pos`` (L, C): when ``L != 2 * max(q_size, k_size) - 1`` the table is resized to that length with
    ``F.interpolate(mode='linear', align_corners=False)`` along L (detectron2 ``get_rel_pos``), e.g. the 127 rows
    of a 64-token axis become 99 rows on a 50-token axis. Unequal query / key sizes scale the shorter coordinates,
    as detectron2 does.
    """
    if rel_pos.dim() != 2:
        raise ValueError(f'rel_pos must be an (L, C) table, got shape {tuple(rel_pos.shape)}')
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        resized = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1), size=max_rel_dist,
                                mode='linear')
        resized = resized.reshape(-1, max_rel_dist).permute(1, 0)
    else:
        resized = rel_pos
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    relative_coords = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return resized[relative_coords.long()]


def decomposed_rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                            q_size: Tuple[int, int], k_size: Tuple[int, int]) -> torch.Tensor:
    """The additive attention bias of decomposed relative position: (..., q_h * q_w, k_h * k_w).

    ``q`` (..., q_h * q_w, C) are the *unscaled* queries (detectron2 adds ``q . R`` to ``scale * q . k``), any
    leading dims (e.g. (B, heads)). Usable as the float ``attn_mask`` of ``F.scaled_dot_product_attention``.
    """
    (q_h, q_w), (k_h, k_w) = q_size, k_size
    if q.shape[-2] != q_h * q_w:
        raise ValueError(f'q has {q.shape[-2]} tokens, expected {q_h}x{q_w}')
    rh = get_rel_pos(q_h, k_h, rel_pos_h).to(q.dtype)
    rw = get_rel_pos(q_w, k_w, rel_pos_w).to(q.dtype)
    lead = q.shape[:-2]
    r_q = q.reshape(-1, q_h, q_w, q.shape[-1])
    rel_h = torch.einsum('bhwc,hkc->bhwk', r_q, rh)
    rel_w = torch.einsum('bhwc,wkc->bhwk', r_q, rw)
    bias = rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]
    return bias.reshape(*lead, q_h * q_w, k_h * k_w)


def add_decomposed_rel_pos(attn: torch.Tensor, q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                           q_size: Tuple[int, int], k_size: Tuple[int, int]) -> torch.Tensor:
    """detectron2 ``add_decomposed_rel_pos``: ``attn`` (B, q_h * q_w, k_h * k_w) plus the decomposed bias of
    ``q`` (B, q_h * q_w, C)."""
    return attn + decomposed_rel_pos_bias(q, rel_pos_h, rel_pos_w, q_size, k_size)


__all__ = ['relative_position_index', 'relative_position_bias', 'resize_rel_pos_table', 'get_rel_pos',
           'decomposed_rel_pos_bias', 'add_decomposed_rel_pos']
