"""The shared pieces of mmconvmae.models.utils (position embeddings, relative position, masking) against
transcriptions of the official functions, and the families' use of them."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.utils import build_2d_sincos_position_embedding

from mmconvmae.models.utils import (relative_position_bias, relative_position_index, resize_pos_embed,
                                    resize_rel_pos_table, sincos_pos_embed)


# ---- official functions, transcribed ------------------------------------------------------------------------
def mae_get_2d_sincos_pos_embed(embed_dim, grid_h_size, grid_w_size=None):
    """MAE ``util/pos_embed.py::get_2d_sincos_pos_embed`` (copied in github:Alpha-VL/ConvMAE ``util/pos_embed.py``
    L20-66 and github:sunsmarterjie/iTPN ``itpn_pixel/util/pos_embed.py`` L20-66); the official code takes one
    ``grid_size``, its ``_from_grid`` part works for any (h, w) grid, used here for non-square grids."""
    grid_w_size = grid_h_size if grid_w_size is None else grid_w_size
    grid_h = np.arange(grid_h_size, dtype=np.float32)
    grid_w = np.arange(grid_w_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_h_size, grid_w_size])

    def get_1d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64)
        omega /= dim / 2.
        omega = 1. / 10000**omega
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    emb_h = get_1d(embed_dim // 2, grid[0])
    emb_w = get_1d(embed_dim // 2, grid[1])
    return torch.from_numpy(np.concatenate([emb_h, emb_w], axis=1)).float().unsqueeze(0)


def mocov3_build_2d_sincos_position_embedding(h, w, embed_dim, temperature=10000.):
    """MoCo v3 ``build_2d_sincos_position_embedding`` as in github:Alpha-VL/ConvMAE ``DET/models/convmae.py``
    L587-606 (and mmpretrain's ``build_2d_sincos_position_embedding``)."""
    grid_w = torch.arange(w, dtype=torch.float32)
    grid_h = torch.arange(h, dtype=torch.float32)
    grid_w, grid_h = torch.meshgrid(grid_w, grid_h, indexing='ij')
    pos_dim = embed_dim // 4
    omega = torch.arange(pos_dim, dtype=torch.float32) / pos_dim
    omega = 1.0 / (temperature**omega)
    out_w = torch.einsum('m,d->md', [grid_w.flatten(), omega])
    out_h = torch.einsum('m,d->md', [grid_h.flatten(), omega])
    return torch.cat([torch.sin(out_w), torch.cos(out_w), torch.sin(out_h), torch.cos(out_h)], dim=1)[None]


def beit_relative_position_index(window_size):
    """BEiT ``RelativePositionBias`` index, as github:Alpha-VL/ConvMAE ``DET/models/convmae.py`` L250-263 (and
    github:sunsmarterjie/iTPN ``itpn_pixel/models/models_itpn.py`` L198-210 for square grids)."""
    coords = torch.stack(torch.meshgrid([torch.arange(window_size[0]), torch.arange(window_size[1])], indexing='ij'))
    coords_flatten = torch.flatten(coords, 1)
    relative_coords = (coords_flatten[:, :, None] - coords_flatten[:, None, :]).permute(1, 2, 0).contiguous()
    relative_coords[:, :, 0] += window_size[0] - 1
    relative_coords[:, :, 1] += window_size[1] - 1
    relative_coords[:, :, 0] *= 2 * window_size[1] - 1
    return relative_coords.sum(-1)


# ---- sin-cos ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('dim, h, w', [(768, 14, 14), (512, 14, 14), (64, 4, 4), (32, 3, 5), (16, 6, 2)])
def test_sincos_xy_is_mae_get_2d_sincos_pos_embed(dim, h, w):
    torch.testing.assert_close(sincos_pos_embed(dim, (h, w), 'xy'), mae_get_2d_sincos_pos_embed(dim, h, w),
                               rtol=0, atol=0)
    assert torch.equal(sincos_pos_embed(dim, (h, w)), sincos_pos_embed(dim, (h, w), 'xy'))  # the default


@pytest.mark.parametrize('dim, side', [(768, 14), (512, 14), (64, 4)])
def test_sincos_yx_is_mocov3_and_mmpretrain(dim, side):
    ours = sincos_pos_embed(dim, (side, side), 'yx')
    # the reference computes in float32, we in float64 (as MAE's numpy code): equal to float32 rounding
    torch.testing.assert_close(ours, mocov3_build_2d_sincos_position_embedding(side, side, dim), rtol=0, atol=1e-5)
    torch.testing.assert_close(ours, build_2d_sincos_position_embedding(side, dim), rtol=0, atol=1e-5)
    # the two layouts are the same blocks with the halves swapped, far apart
    xy = sincos_pos_embed(dim, (side, side), 'xy')
    assert torch.equal(ours, torch.cat([xy[..., dim // 2:], xy[..., :dim // 2]], -1))
    assert (ours - xy).abs().max() > 1.5


def test_sincos_yx_puts_rows_first_on_non_square_grids():
    emb = sincos_pos_embed(8, (2, 3), 'yx')[0]  # token t = y * 3 + x
    y, x = torch.tensor([0., 0., 0., 1., 1., 1.]), torch.tensor([0., 1., 2., 0., 1., 2.])
    omega = 1. / 10000**(torch.arange(2) / 2.)
    torch.testing.assert_close(emb[:, :2], torch.sin(y[:, None] * omega))
    torch.testing.assert_close(emb[:, 6:], torch.cos(x[:, None] * omega))


def test_sincos_bad_arguments():
    with pytest.raises(ValueError, match='divisible by 4'):
        sincos_pos_embed(30, (2, 2))
    with pytest.raises(ValueError, match=r"layout must be one of \('xy', 'yx'\), got 'hw'"):
        sincos_pos_embed(32, (2, 2), 'hw')


def test_each_family_uses_the_official_layout():
    """ConvMAE and iTPN pretraining both build their fixed tables with MAE's function ('xy')."""
    from mmconvmae.models import HiViT
    from mmconvmae.models.selfsup import ConvMAEDecoder, ConvMAEPretrainEncoder, iTPNPixelHead
    enc = ConvMAEPretrainEncoder(dict(embed_dims=[16, 32, 64], depths=[1, 1, 1], num_heads=2), img_size=64)
    assert torch.equal(enc.pos_embed, mae_get_2d_sincos_pos_embed(64, 4))
    assert torch.equal(enc.get_pos_embed((3, 5)), mae_get_2d_sincos_pos_embed(64, 3, 5))
    dec = ConvMAEDecoder(64, embed_dim=32, depth=1, num_heads=2, grid=(4, 4))
    assert torch.equal(dec.decoder_pos_embed, mae_get_2d_sincos_pos_embed(32, 4))
    hivit = HiViT(dict(embed_dims=64, depths=[1, 1, 1], num_heads=2), img_size=64)
    assert torch.equal(hivit.absolute_pos_embed.data, mae_get_2d_sincos_pos_embed(64, 4))
    head = iTPNPixelHead(fpn_dim=32, img_size=64, decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=2)
    assert torch.equal(head.decoder_pos_embed, mae_get_2d_sincos_pos_embed(64, 4))


# ---- absolute resize ----------------------------------------------------------------------------------------
def detectron2_get_abs_pos(abs_pos, hw):
    """detectron2 ``modeling/backbone/utils.py::get_abs_pos`` without cls token, as (1, h*w, C)."""
    xy = abs_pos.shape[1]
    size = int(xy**0.5)
    new = F.interpolate(abs_pos.reshape(1, size, size, -1).permute(0, 3, 1, 2), size=hw, mode='bicubic',
                        align_corners=False)
    return new.permute(0, 2, 3, 1).reshape(1, hw[0] * hw[1], -1)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.bfloat16])
def test_exact_resize_is_get_abs_pos_and_keeps_dtype(dtype):
    torch.manual_seed(0)
    table = torch.randn(1, 36, 8, dtype=dtype)
    out = resize_pos_embed(table, (4, 9), 'exact')
    assert out.dtype == dtype and out.shape == (1, 36, 8)
    assert torch.equal(out, detectron2_get_abs_pos(table.float(), (4, 9)).to(dtype))
    assert resize_pos_embed(table, (6, 6), 'exact') is table
    # non-square source grids (ConvMAE with a rectangular img_size)
    rect = torch.randn(1, 12, 8)
    want = F.interpolate(rect.reshape(1, 3, 4, 8).permute(0, 3, 1, 2), size=(5, 2), mode='bicubic',
                         align_corners=False).permute(0, 2, 3, 1).reshape(1, 10, 8)
    assert torch.equal(resize_pos_embed(rect, (5, 2), 'exact', src_hw=(3, 4)), want)
    with pytest.raises(ValueError, match='official rule resizes square tables only'):
        resize_pos_embed(rect, (5, 2), 'official', src_hw=(3, 4))


# ---- relative position --------------------------------------------------------------------------------------
@pytest.mark.parametrize('size', [(4, 4), (3, 5), (14, 14)])
def test_relative_position_index_is_beit(size):
    assert torch.equal(relative_position_index(*size, size), beit_relative_position_index(size))


def test_relative_position_bias_reads_the_official_table():
    torch.manual_seed(0)
    table = torch.randn(5 * 9, 3)
    bias = relative_position_bias(table, (3, 5), (3, 5))
    want = table[beit_relative_position_index((3, 5)).view(-1)].view(15, 15, -1).permute(2, 0, 1)
    assert torch.equal(bias, want)
    # a smaller grid reads the centre offsets of the same table
    small = relative_position_bias(table, (3, 5), (2, 2))
    index = relative_position_index(2, 2, (3, 5))
    assert torch.equal(small, table[index.view(-1)].view(4, 4, -1).permute(2, 0, 1))


def test_resize_rel_pos_table():
    torch.manual_seed(0)
    table = torch.randn(7 * 7, 2)
    out = resize_rel_pos_table(table, 9 * 9)
    want = F.interpolate(table.T.reshape(1, 2, 7, 7), size=(9, 9), mode='bicubic', align_corners=False)
    assert torch.equal(out, want.reshape(2, 81).T) and out.is_contiguous()
    assert resize_rel_pos_table(table.half(), 81).dtype == torch.float16
    with pytest.raises(ValueError, match='only square tables'):
        resize_rel_pos_table(torch.zeros(15, 2), 81)
