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


# ---- masking --------------------------------------------------------------------------------------------------
def official_random_masking(N, L, mask_ratio, noise_fn, generator=None):
    """MAE ``random_masking`` / iTPN ``masking_id`` (github:Alpha-VL/ConvMAE ``models_convmae.py`` L133-160,
    github:sunsmarterjie/iTPN ``itpn_pixel/models/models_itpn_mim.py`` L193-210: ``torch.rand``) and FCMAE
    ``gen_random_mask`` (github:facebookresearch/ConvNeXt-V2 ``models/fcmae.py`` L119-135: ``torch.randn``)."""
    len_keep = int(L * (1 - mask_ratio))
    noise = noise_fn(N, L, generator=generator)
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    mask = torch.ones([N, L])
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, dim=1, index=ids_restore)
    return mask, ids_keep, ids_restore


@pytest.mark.parametrize('noise, noise_fn', [('uniform', torch.rand), ('normal', torch.randn)])
@pytest.mark.parametrize('N, L, ratio', [(4, 196, 0.75), (3, 49, 0.6), (2, 12, 0.)])
def test_random_masking_is_the_official_draw(noise, noise_fn, N, L, ratio):
    from mmconvmae.models.utils import random_masking
    # same RNG state, same masks: with a generator and with the global state (as the official code)
    got = random_masking(N, L, ratio, noise, generator=torch.Generator().manual_seed(5))
    want = official_random_masking(N, L, ratio, noise_fn, generator=torch.Generator().manual_seed(5))
    for a, b in zip(got, want):
        assert torch.equal(a, b)
    torch.manual_seed(7)
    got = random_masking(N, L, ratio, noise)
    after_ours = torch.rand(1)
    torch.manual_seed(7)
    want = official_random_masking(N, L, ratio, noise_fn)
    assert torch.equal(torch.rand(1), after_ours)  # the same amount of the random state is used
    for a, b in zip(got, want):
        assert torch.equal(a, b)
    mask, ids_keep, ids_restore = got
    assert mask.dtype == torch.float32 and (mask.sum(1) == L - int(L * (1 - ratio))).all()
    assert (mask.gather(1, ids_keep) == 0).all()


def test_random_masking_rejects_unknown_noise_and_old_names_warn():
    from mmconvmae.models.selfsup.convmae import random_token_mask
    from mmconvmae.models.selfsup.fcmae import gen_random_mask
    from mmconvmae.models.utils import random_masking
    with pytest.raises(ValueError, match=r"noise must be one of \('uniform', 'normal'\), got 'beta'"):
        random_masking(2, 4, 0.5, 'beta')
    with pytest.deprecated_call():
        old = gen_random_mask(2, 16, 0.6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(old, random_masking(2, 16, 0.6, 'normal', generator=torch.Generator().manual_seed(1))[0])
    with pytest.deprecated_call():
        old = random_token_mask(2, 16, 0.75, generator=torch.Generator().manual_seed(1))
    assert torch.equal(old, random_masking(2, 16, 0.75, generator=torch.Generator().manual_seed(1))[0])


def test_mask_to_ids():
    from mmconvmae.models.utils import mask_to_ids
    mask = torch.tensor([[1., 0., 1., 0.], [0., 1., 1., 0.]])
    ids_keep, ids_restore = mask_to_ids(mask)
    assert ids_keep.tolist() == [[1, 3], [0, 3]]
    shuffled = torch.cat([ids_keep, torch.tensor([[0, 2], [1, 2]])], 1)
    assert torch.equal(shuffled.gather(1, ids_restore), torch.arange(4).expand(2, 4))
    with pytest.raises(ValueError, match=r'same number of visible tokens, got \[2, 1\]'):
        mask_to_ids(torch.tensor([[1, 0, 1, 0], [0, 1, 1, 1]]))


# ---- pretraining base ------------------------------------------------------------------------------------------
def test_build_module_defaults_follow_the_class_not_its_name():
    from mmconvmae.models.selfsup import FCMAEDecoder
    from mmconvmae.models.utils import build_module

    class Wider(FCMAEDecoder):
        pass

    for cfg in (dict(embed_dim=16), dict(type='mmconvmae.FCMAEDecoder', embed_dim=16),
                dict(type=FCMAEDecoder, embed_dim=16), dict(type=Wider, embed_dim=16)):
        assert build_module(cfg, FCMAEDecoder, 'neck', defaults=dict(in_channels=40)).proj.in_channels == 40
    assert build_module(dict(embed_dim=16, in_channels=8), FCMAEDecoder, 'neck',
                        defaults=dict(in_channels=40)).proj.in_channels == 8
    # another class gets no defaults it may not take
    assert isinstance(build_module(dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2'), FCMAEDecoder,
                                   'neck', defaults=dict(in_channels=40)), torch.nn.Module)
    with pytest.raises(TypeError, match='neck must be a FCMAEDecoder, got PixelReconstructionLoss'):
        build_module(dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2'), FCMAEDecoder, 'neck',
                     strict=True)
    with pytest.raises(KeyError, match="neck: unknown type 'NoSuchDecoder'"):
        build_module(dict(type='NoSuchDecoder'), FCMAEDecoder, 'neck')
    with pytest.raises(TypeError, match='neck must be a dict or an nn.Module, got str'):
        build_module('FCMAEDecoder', FCMAEDecoder, 'neck')


def official_forward_loss(imgs, pred, mask, p):
    """MAE ``forward_loss`` with ``norm_pix_loss`` (github:sunsmarterjie/iTPN
    ``itpn_pixel/models/masked_autoencoder.py`` L80-100, ``patchify`` there for square images)."""
    h = w = imgs.shape[2] // p
    target = torch.einsum('nchpwq->nhwpqc', imgs.reshape(imgs.shape[0], 3, h, p, w, p)).reshape(imgs.shape[0], h * w,
                                                                                                 -1)
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    target = (target - mean) / (var + 1.e-6)**.5
    loss = ((pred - target)**2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum()


def _tiny_itpn():
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = dict(type='mmconvmae.iTPN',
               backbone=dict(type='mmconvmae.HiViT', arch=dict(embed_dims=64, depths=[1, 1, 1], num_heads=2),
                             img_size=64),
               neck=dict(type='mmconvmae.iTPNPyramid', in_channels=64, fpn_dim=32, out_type='units'),
               head=dict(type='mmconvmae.iTPNPixelHead', fpn_dim=32, img_size=64, decoder_embed_dim=64,
                         decoder_depth=1, decoder_num_heads=2))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg).eval()


def test_itpn_pixel_loss_is_the_official_forward_loss_and_takes_a_given_mask():
    torch.manual_seed(0)
    model = _tiny_itpn()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    model = model.double()
    with torch.no_grad():
        torch.manual_seed(1)
        pred, mask = model.reconstruct(x)
        assert torch.equal(model.head.loss(pred, x, mask), official_forward_loss(x, pred, mask, 16))
        torch.manual_seed(1)
        assert torch.equal(model.loss(x)['loss'], official_forward_loss(x, pred, mask, 16))
        # a given mask: the visible units in ascending order, same per-unit predictions
        again, mask2 = model.reconstruct(x, mask.bool())
    assert torch.equal(mask2, mask)
    torch.testing.assert_close(again, pred, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match='iTPN takes one view per image, got 2'):
        model.loss([x, x])
    with pytest.raises(ValueError, match='iTPN needs H and W divisible by the 16-pixel mask unit'):
        model.loss(torch.randn(1, 3, 64, 40))


def test_the_three_algorithms_share_the_base():
    from mmconvmae.models.selfsup import FCMAE, ConvMAEPretrain, MaskedImageModeling, PixelPatchHead, iTPNPixelHead
    assert issubclass(iTPNPixelHead, PixelPatchHead)
    assert all(issubclass(c, MaskedImageModeling) for c in (FCMAE, ConvMAEPretrain, type(_tiny_itpn())))
    with pytest.raises(ValueError, match=r'iTPN mask_ratio must be in \[0, 1\) \(official 0.75\), got 1.0'):
        type(_tiny_itpn())(backbone=dict(), neck=dict(), head=dict(), mask_ratio=1.0)
