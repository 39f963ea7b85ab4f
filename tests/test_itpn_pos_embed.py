"""iTPN / HiViT absolute position embedding against the official code on every path.

The reference is an independent transcription of the official forward (github:sunsmarterjie/iTPN): functions on
the raw state dicts (the parameter names are the official ones), with ``interpolate_pos_encoding`` as in
``itpn_pixel/models/models_itpn.py`` L318-335 (same text in the CLIP, det and seg files). Cases: classification
(fine-tune), the det backbone + pyramid, masked pixel pretraining (kept units), masked CLIP pretraining (mask
tokens, auxiliary branch), square and non-square inputs, with and without relative position bias.
Criterion (issue 11): max |ours - official| <= 1e-5 * max |official| in fp32, for every output.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from test_convmae import _beit_index

from mmconvmae.models import HiViT, iTPNPyramid
from mmconvmae.models.utils.pos_embed import interpolate_pos_encoding, resize_pos_embed

ARCH = dict(embed_dims=64, depths=[1, 1, 2], num_heads=2)
IMG = 64  # 4 x 4 units at pretraining
REL_POS = {True: 'per_block', False: None}  # the official rpe switch -> HiViT(rel_pos_bias=...)
FPN = 32
TOL = 1e-5


# ---- official code, transcribed -----------------------------------------------------------------------------
def official_interpolate_pos_encoding(absolute_pos_embed, x, h, w):
    """``iTPN.interpolate_pos_encoding`` (itpn_pixel/models/models_itpn.py L318-335), with the table passed in."""
    npatch = x.shape[1]
    N = absolute_pos_embed.shape[1]
    if npatch == N and w == h:
        return absolute_pos_embed
    patch_pos_embed = absolute_pos_embed
    dim = x.shape[-1]
    w0, h0 = w + 0.1, h + 0.1
    patch_pos_embed = F.interpolate(
        patch_pos_embed.reshape(1, int(math.sqrt(N)), int(math.sqrt(N)), dim).permute(0, 3, 1, 2),
        scale_factor=(h0 / math.sqrt(N), w0 / math.sqrt(N)),
        mode='bicubic',
    )
    assert int(h0) == patch_pos_embed.shape[-2] and int(w0) == patch_pos_embed.shape[-1]
    return patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)


def official_relative_position_index(Hp):
    """``iTPN.__init__`` (models_itpn.py L211-222): the BEiT index of an Hp x Hp grid (Hp = img_size // 16), the
    formula test_convmae.py already transcribes."""
    return _beit_index(Hp, Hp)


def _ln(x, sd, k):
    return F.layer_norm(x, x.shape[-1:], sd[k + '.weight'], sd[k + '.bias'], 1e-6)


def _lin(x, sd, k):
    return F.linear(x, sd[k + '.weight'], sd.get(k + '.bias'))


def _attention(x, sd, k, heads, rpe_index):
    """``Attention.forward`` (models_itpn.py L41-62)."""
    B, N, C = x.shape
    qkv = _lin(x, sd, k + '.qkv').reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    q, kk, v = qkv[0], qkv[1], qkv[2]
    attn = (q * (C // heads)**-0.5) @ kk.transpose(-2, -1)
    if rpe_index is not None:
        S = int(math.sqrt(rpe_index.size(-1)))
        bias = sd[k + '.relative_position_bias_table'][rpe_index].view(-1, S, S, heads)
        attn = attn + bias.permute(0, 3, 1, 2).contiguous()
    attn = attn.float().softmax(dim=-1)
    return _lin((attn @ v).transpose(1, 2).reshape(B, N, C), sd, k + '.proj')


def _block(x, sd, k, heads=0, rpe_index=None):
    """``BlockWithRPE.forward`` (itpn_clip/modeling_finetune.py L110-119: with gammas when present)."""
    g1, g2 = sd.get(k + '.gamma_1', 1.), sd.get(k + '.gamma_2', 1.)
    if k + '.attn.qkv.weight' in sd:
        x = x + g1 * _attention(_ln(x, sd, k + '.norm1'), sd, k + '.attn', heads, rpe_index)
    return x + g2 * _lin(F.gelu(_lin(_ln(x, sd, k + '.norm2'), sd, k + '.mlp.fc1')), sd, k + '.mlp.fc2')


def _merge(x, sd, k):
    x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
    return _lin(_ln(x, sd, k + '.norm'), sd, k + '.reduction')


def _split(x, sd, k, fpn_dim):
    B, N, H, W, C = x.shape
    x = _lin(_ln(x, sd, k + '.norm'), sd, k + '.reduction')
    return x.reshape(B, N, H, W, 2, 2, fpn_dim).permute(0, 1, 2, 4, 3, 5, 6).reshape(B, N, 2 * H, 2 * W, fpn_dim)


def official_forward_features(sd, x, rpe, ids_keep=None, bool_masked_pos=None, aux_at=None):
    """``iTPN.forward_features`` up to the main blocks (models_itpn.py L337-382; ``bool_masked_pos``:
    itpn_clip/modeling_pretrain.py L227-256). Returns (features [C4, C8], C16 tokens, aux tokens, rpe_index)."""
    B, C, H, W = x.shape
    Hp, Wp = H // 16, W // 16
    d4, d8, d16 = ARCH['depths']
    x = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=4)
    x = x.view(B, -1, Hp, 4, Wp, 4).permute(0, 2, 4, 3, 5, 1).reshape(B, Hp * Wp, 4, 4, -1)
    x = _ln(x, sd, 'patch_embed.norm')
    if ids_keep is not None:
        x = torch.gather(x, dim=1, index=ids_keep[:, :, None, None, None].expand(-1, -1, *x.shape[2:]))
    features, i = [], 0
    for depth in (d4, d8):
        for _ in range(depth):
            x = _block(x, sd, f'blocks.{i}')
            i += 1
        features.append(x)
        x = _merge(x, sd, f'blocks.{i}')
        i += 1
    x = x[..., 0, 0, :]
    if bool_masked_pos is not None:
        w = bool_masked_pos.unsqueeze(-1).type_as(x)
        x = x * (1 - w) + sd['mask_token'].expand(B, x.shape[1], -1) * w
    pos_embed = official_interpolate_pos_encoding(sd['absolute_pos_embed'], x, Hp, Wp)
    if ids_keep is not None:
        pos_embed = torch.gather(pos_embed.expand(B, -1, -1), dim=1,
                                 index=ids_keep[:, :, None].expand(-1, -1, pos_embed.shape[2]))
    x = x + pos_embed
    rpe_index = None
    if rpe:
        rpe_index = official_relative_position_index(IMG // 16)
        if ids_keep is not None:
            L = ids_keep.shape[1]
            rpe_index = torch.gather(rpe_index[ids_keep, :], dim=-1,
                                     index=ids_keep[:, None, :].expand(-1, L, -1)).reshape(B, -1)
        else:
            rpe_index = rpe_index.view(-1)
    aux = None
    for j in range(d16):
        x = _block(x, sd, f'blocks.{i + j}', ARCH['num_heads'], rpe_index)
        if j == aux_at:
            aux = x
    return features, x, aux, rpe_index


def official_fpn(sd, features, x):
    """The FPN part of ``forward_features`` (models_itpn.py L370-383), unit layout -> [O16, O8, O4]."""
    x = x[..., None, None, :]
    outs = [_lin(x, sd, 'align_dim_16tofpn')]
    x = _split(x, sd, 'split_16to8', FPN) + _lin(features[1], sd, 'align_dim_16to8')
    for j in range(2):
        x = _block(x, sd, f'block_16to8.{j}')
    outs.append(x)
    x = _split(x, sd, 'split_8to4', FPN) + _lin(features[0], sd, 'align_dim_8to4')
    for j in range(2):
        x = _block(x, sd, f'block_8to4.{j}')
    outs.append(x)
    return [_block(o, sd, f'fpn_modules.{i}') for i, o in enumerate(outs)]


def official_to_maps(outs, B, Hp, Wp):
    """Unit layout -> NCHW (det/mmdet/models/backbones/iTPN_pixel.py L392-395)."""
    return [o.reshape(B, Hp, Wp, *o.shape[-3:]).permute(0, 5, 1, 3, 2, 4).reshape(
        B, -1, Hp * o.shape[-3], Wp * o.shape[-2]).contiguous() for o in outs]


# ---- our modules with randomised weights ---------------------------------------------------------------------
def _randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            std = 0.5 if 'pos_embed' in name or 'mask_token' in name or 'relative_position' in name else (
                0.2 if p.dim() == 1 else 0.05)
            p.add_(torch.randn(p.shape, generator=g) * std)
    return module.eval()


def _sd(*modules):
    out = {}
    for m in modules:
        out.update({k: v.detach() for k, v in m.state_dict().items()})
    return out


def _rel(got, ref):
    return ((got - ref).abs().max() / ref.abs().max()).item()


def case_finetune(hw, rpe):
    """Classification output fc_norm(mean C16) (itpn_clip/modeling_finetune.py L326-356)."""
    m = _randomise(HiViT(ARCH, img_size=IMG, rel_pos_bias=REL_POS[rpe], out_type='avg_featmap',
                         layer_scale_init_value=0.1), 1)
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(2))
    sd = _sd(m)
    with torch.no_grad():
        _, c16, _, _ = official_forward_features(sd, x, rpe)
        ref = _ln(c16.mean(dim=1), sd, 'fc_norm')
        got = m(x)[0]
    return {'cls': _rel(got, ref)}


def case_det(hw, rpe):
    """Backbone C4/C8/C16 maps and the 5-level det pyramid (det/mmdet/models/backbones/iTPN_pixel.py
    forward_features with num_outs=5, L333-404, reversed in ``forward``)."""
    m = _randomise(HiViT(ARCH, img_size=IMG, rel_pos_bias=REL_POS[rpe]), 3)
    neck = _randomise(iTPNPyramid(ARCH['embed_dims'], FPN, fpn_depth=2, num_outs=5), 4)
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(5))
    sd = _sd(m, neck)
    B, Hp, Wp = 2, hw[0] // 16, hw[1] // 16
    with torch.no_grad():
        feats, c16, _, _ = official_forward_features(sd, x, rpe)
        ref_c = official_to_maps(feats + [c16[..., None, None, :]], B, Hp, Wp)
        outs = official_to_maps(official_fpn(sd, feats, c16), B, Hp, Wp)
        outs.insert(0, F.avg_pool2d(outs[0], kernel_size=2, stride=2))
        outs.insert(0, F.avg_pool2d(outs[0], kernel_size=2, stride=2))
        ref_p = list(reversed(outs))
        got_c = m(x)
        got_p = neck(got_c)
    res = {f'C{s}': _rel(g, r) for s, g, r in zip((4, 8, 16), got_c, ref_c)}
    res.update({f'P{i}': _rel(g, r) for i, (g, r) in enumerate(zip(got_p, ref_p))})
    return res


def case_pixel_pretrain(hw, rpe):
    """Masked pixel pretraining: 25% of the units kept (ids_keep), backbone + pyramid on them
    (itpn_pixel/models/models_itpn_mim.py forward_encoder -> models_itpn.py forward_features, num_outs=3)."""
    m = _randomise(HiViT(ARCH, img_size=IMG, rel_pos_bias=REL_POS[rpe]), 6)
    neck = _randomise(iTPNPyramid(ARCH['embed_dims'], FPN, fpn_depth=2, out_type='units'), 7)
    g = torch.Generator().manual_seed(8)
    x = torch.randn(2, 3, *hw, generator=g)
    n = (hw[0] // 16) * (hw[1] // 16)
    ids_keep = torch.rand(2, n, generator=g).argsort(dim=1)[:, :n // 4]
    sd = _sd(m, neck)
    with torch.no_grad():
        feats, c16, _, _ = official_forward_features(sd, x, rpe, ids_keep=ids_keep)
        ref = feats + [c16] + official_fpn(sd, feats, c16)
        (c4, c8, g16), _, _ = m.forward_units(x, ids_keep=ids_keep)
        got = [c4, c8, g16[..., 0, 0, :]] + list(neck.forward_units(c4, c8, g16))
    return {k: _rel(a, b) for k, a, b in zip(('C4', 'C8', 'C16', 'O16', 'O8', 'O4'), got, ref)}


def case_clip_pretrain(hw, rpe):
    """Masked CLIP pretraining through ``mmconvmae.iTPN.loss``: mask tokens after the stem, fused pyramid and
    auxiliary branch on main block ``int(0.75 * depth)`` (itpn_clip/modeling_pretrain.py L227-310), SmoothL1 of
    both predictions to the teacher tokens (itpn_clip/engine_for_pretraining.py L59-64)."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    Hp, Wp = hw[0] // 16, hw[1] // 16
    cfg = dict(type='mmconvmae.iTPN', target='clip',
               backbone=dict(type='mmconvmae.HiViT', arch=ARCH, img_size=IMG, rel_pos_bias=REL_POS[rpe],
                             layer_scale_init_value=0.1, mask_token=True),
               neck=dict(type='mmconvmae.iTPNPyramid', in_channels=64, fpn_dim=FPN, fpn_depth=2, out_type='units'),
               head=dict(type='mmconvmae.iTPNCLIPHead', embed_dims=64, fpn_dim=FPN, teacher_dim=24, num_heads=2,
                         rpe_size=IMG // 16 if rpe else None),
               target_generator=dict(type='mmconvmae.CLIPTeacher', width=32, layers=1, heads=2, output_dim=24,
                                     input_resolution=IMG))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg)
    for part, seed in ((model.backbone, 9), (model.neck, 10), (model.head, 11)):
        _randomise(part, seed)
    g = torch.Generator().manual_seed(12)
    x = torch.randn(2, 3, *hw, generator=g)
    mask = torch.rand(2, Hp, Wp, generator=g) > 0.6
    target = torch.randn(2, Hp * Wp, 24, generator=g)  # the teacher is not under test: one target token per unit
    samples = [DataSample(mask=mk) for mk in mask]
    sd = _sd(model.backbone, model.neck, model.head)
    with torch.no_grad():
        model.target_generator.forward = lambda _: target
        aux_at = int(0.75 * ARCH['depths'][2])
        feats, c16, aux, rpe_index = official_forward_features(sd, x, rpe, bool_masked_pos=mask.flatten(1),
                                                               aux_at=aux_at)
        outs = official_fpn(sd, feats, c16)
        B, N = c16.shape[:2]
        main = sum(_lin(_ln(o, sd, f'decoder_embed.{k}.0'), sd, f'decoder_embed.{k}.1').reshape(B, N, -1)
                   for k, o in enumerate(outs))
        main = _lin(_ln(main, sd, 'norm'), sd, 'lm_head')
        for j in range(2):
            aux = _block(aux, sd, f'cls_pt_layers.{j}', ARCH['num_heads'], rpe_index)
        aux = _lin(_ln(aux, sd, 'norm_cls'), sd, 'lm_cls_head')
        ref_loss = F.smooth_l1_loss(main, target) + F.smooth_l1_loss(aux, target)
        got_loss = model.loss([x, x], samples)['loss']
        (c4, c8, g16), _, _ = model.backbone.forward_units(x, token_mask=mask.flatten(1))
        got_o = model.neck.forward_units(c4, c8, g16)
    res = {'C16': _rel(g16[..., 0, 0, :], c16), 'loss': _rel(got_loss, ref_loss)}
    res.update({k: _rel(a, b) for k, a, b in zip(('O16', 'O8', 'O4'), got_o, outs)})
    return res


SQUARE, OTHER_SQUARE, NON_SQUARE = (IMG, IMG), (96, 96), (64, 96)
CASES = [
    # official rpe only works at the training grid (its relative_position_index is fixed to img_size)
    ('finetune', case_finetune, SQUARE, True), ('finetune', case_finetune, SQUARE, False),
    ('finetune', case_finetune, OTHER_SQUARE, False), ('finetune', case_finetune, NON_SQUARE, False),
    ('det', case_det, SQUARE, True), ('det', case_det, SQUARE, False), ('det', case_det, NON_SQUARE, False),
    ('det', case_det, (128, 96), False),
    ('pixel', case_pixel_pretrain, SQUARE, True), ('pixel', case_pixel_pretrain, SQUARE, False),
    ('pixel', case_pixel_pretrain, NON_SQUARE, False),
    ('clip', case_clip_pretrain, SQUARE, True), ('clip', case_clip_pretrain, SQUARE, False),
    ('clip', case_clip_pretrain, NON_SQUARE, False),
]


@pytest.mark.parametrize('name, case, hw, rpe', CASES, ids=[f'{c[0]}-{c[2][0]}x{c[2][1]}-rpe{int(c[3])}'
                                                            for c in CASES])
def test_matches_official_forward(name, case, hw, rpe):
    torch.manual_seed(0)
    res = case(hw, rpe)
    bad = {k: v for k, v in res.items() if not v <= TOL}
    assert not bad, f'{name} {hw} rpe={rpe}: max relative differences above {TOL}: {bad} (all: {res})'


# ---- the helper itself ---------------------------------------------------------------------------------------
@pytest.mark.parametrize('hw, num_tokens', [((4, 4), None), ((4, 4), 4), ((3, 5), None), ((6, 6), None),
                                            ((6, 6), 9), ((7, 2), 3)])
def test_official_rule_equals_transcription(hw, num_tokens):
    g = torch.Generator().manual_seed(0)
    table = torch.randn(1, 16, 8, generator=g)
    tokens = torch.zeros(1, hw[0] * hw[1] if num_tokens is None else num_tokens, 8)
    ref = official_interpolate_pos_encoding(table, tokens, *hw)
    got = interpolate_pos_encoding(table, hw, num_tokens)
    assert torch.equal(got, ref)
    assert torch.equal(resize_pos_embed(table, hw, 'official', num_tokens), ref)
    if hw == (4, 4):  # kept as is only with every unit present: masked pretraining resizes at the training grid
        assert (got is table) == (num_tokens is None)
        if num_tokens is not None:
            assert 1e-3 < (got - table).abs().max() and torch.equal(resize_pos_embed(table, hw, 'exact'), table)


def test_official_differs_from_a_resize_to_the_exact_size():
    """torch samples with the given scale factor ((h + 0.1) / S), not out / in: not a size= resize."""
    table = torch.randn(1, 16, 8, generator=torch.Generator().manual_seed(0))
    exact = F.interpolate(table.reshape(1, 4, 4, 8).permute(0, 3, 1, 2), size=(3, 6), mode='bicubic',
                          align_corners=False).permute(0, 2, 3, 1).reshape(1, 18, 8)
    assert torch.equal(resize_pos_embed(table, (3, 6), 'exact'), exact)
    assert (interpolate_pos_encoding(table, (3, 6)) - exact).abs().max() > 1e-2


@pytest.mark.parametrize('mode', ['official', 'exact'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float64])
def test_resize_keeps_dtype(mode, dtype):
    table = torch.randn(1, 16, 8).to(dtype)
    out = resize_pos_embed(table, (3, 5), mode)
    assert out.dtype == dtype and out.shape == (1, 15, 8)
    torch.testing.assert_close(out.float(), resize_pos_embed(table.float(), (3, 5), mode), rtol=1e-2, atol=1e-2)


def test_pos_embed_interp_option():
    """``pos_embed_interp='exact'`` keeps the table at the training grid even with masking and resizes to the
    exact size elsewhere; bad values and non-square tables are errors."""
    torch.manual_seed(0)
    official = HiViT(ARCH, img_size=IMG).eval()
    exact = HiViT(ARCH, img_size=IMG, pos_embed_interp='exact').eval()
    exact.load_state_dict(official.state_dict())
    pe = official.absolute_pos_embed
    assert exact.pos_embed((4, 4), num_tokens=4) is exact.absolute_pos_embed and official.pos_embed((4, 4)) is pe
    assert not torch.equal(official.pos_embed((4, 4), num_tokens=4), pe)
    torch.testing.assert_close(exact.pos_embed((3, 5)), resize_pos_embed(pe, (3, 5), 'exact'))
    x = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        assert not torch.allclose(exact(x)[2], official(x)[2])
    with pytest.raises(ValueError, match='pos_embed_interp'):
        HiViT(ARCH, img_size=IMG, pos_embed_interp='bilinear')
    with pytest.raises(ValueError, match='one of'):
        resize_pos_embed(pe, (3, 5), 'nearest')
    with pytest.raises(ValueError, match='not a square'):
        interpolate_pos_encoding(torch.zeros(1, 12, 8), (3, 5))
    with pytest.raises(ValueError, match='not a square'):
        resize_pos_embed(torch.zeros(1, 12, 8), (3, 5), 'exact')
