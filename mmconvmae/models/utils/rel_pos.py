"""Decomposed relative position (MViTv2 / ViTDet): one learnable table per axis and block.

The attention logit between a query at (qy, qx) and a key at (ky, kx) gets ``q . Rh[qy, ky] + q . Rw[qx, kx]``
where ``Rh`` / ``Rw`` are read from the per-axis tables ``rel_pos_h`` (2 S_h - 1, head_dim) and ``rel_pos_w``
(2 S_w - 1, head_dim) at the offset ``query - key`` (+ S - 1). The functions follow detectron2
``modeling/backbone/utils.py`` (``get_rel_pos``, ``add_decomposed_rel_pos``; the same code is in
OpenGVLab/Official-ConvMAE-Det), including the linear resize of a table whose length does not fit the grid.
"""
from typing import Tuple

import torch
import torch.nn.functional as F


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


__all__ = ['get_rel_pos', 'decomposed_rel_pos_bias', 'add_decomposed_rel_pos']
