"""ConvMAE ViTDet variant (OpenGVLab/Official-ConvMAE-Det ``projects/ConvMAEDet``): parity with an independent
transcription of the official forward (native and resized grids, padded windows), the official key set and
parameter count, checkpoint loading, the simple feature pyramid, the official optimizer groups, the entry config
and the CPU demo twin."""
import math
import runpy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from helpers import ROOT, train_and_test
from mmconvmae.models import ConvMAEDet, ConvMAEViTDet, SimpleFeaturePyramid
from mmconvmae.models.utils import get_rel_pos, load_pretrained

TINY = dict(embed_dims=[16, 24, 32], depths=[2, 2, 11], num_heads=4)  # the official 2-2-11 layout, small dims
#: mask_rcnn_vitdet_convmae_b_25ep.py: window_block_indexes (global attention in 1, 4, 7, 10)
WINDOW_BLOCKS = [0, 2, 3, 5, 6, 8, 9]
#: measured max |ours - official| / max |official| per case, printed by the parity test (pytest -s)
TOL = 1e-5


# ---- the official code, transcribed -----------------------------------------------------------------------------
def official_key_shapes(img_size=1024, patch_size=(4, 2, 2), in_chans=3, embed_dim=(256, 384, 768), depth=(2, 2, 11),
                        num_heads=12, mlp_ratio=4, window_size=14, window_block_indexes=WINDOW_BLOCKS,
                        use_rel_pos=True, pretrain_img_size=224, pretrain_use_cls_token=False):
    """Parameter names and shapes of ``ConvViT.__init__`` (projects/ConvMAEDet/modeling/convmae.py, lines 267-342)
    with the arguments of ``mask_rcnn_vitdet_convmae_b_25ep.py``, written from the official constructor."""
    shapes = {}
    cin = in_chans
    for i, (p, c) in enumerate(zip(patch_size, embed_dim), 1):  # PatchEmbed: proj conv, norm LayerNorm
        shapes.update({f'patch_embed{i}.proj.weight': (c, cin, p, p), f'patch_embed{i}.proj.bias': (c, ),
                       f'patch_embed{i}.norm.weight': (c, ), f'patch_embed{i}.norm.bias': (c, )})
        cin = c
    d = embed_dim[-1]
    shapes.update({'patch_embed4.weight': (d, d), 'patch_embed4.bias': (d, )})
    num_patches = (pretrain_img_size // 16) * (pretrain_img_size // 16)
    shapes['pos_embed'] = (1, num_patches + 1 if pretrain_use_cls_token else num_patches, d)
    for s in (1, 2):  # CBlock: norm1, conv1, conv2, attn (5x5 depthwise), norm2, CMlp fc1 / fc2 (1x1 convs)
        c, hidden = embed_dim[s - 1], int(embed_dim[s - 1] * mlp_ratio)
        for b in range(depth[s - 1]):
            p = f'blocks{s}.{b}.'
            for n, shape in (('norm1', None), ('conv1', (c, c, 1, 1)), ('conv2', (c, c, 1, 1)),
                             ('attn', (c, 1, 5, 5)), ('norm2', None), ('mlp.fc1', (hidden, c, 1, 1)),
                             ('mlp.fc2', (c, hidden, 1, 1))):
                shapes[p + n + '.weight'] = shape or (c, )
                shapes[p + n + '.bias'] = (shape[0] if shape else c, )
    hidden, head_dim = int(d * mlp_ratio), d // num_heads
    for i in range(depth[2]):  # Block: norm1, Attention (qkv, proj, rel_pos_h/w), norm2, timm Mlp
        p = f'blocks3.{i}.'
        shapes.update({p + 'norm1.weight': (d, ), p + 'norm1.bias': (d, ), p + 'attn.qkv.weight': (3 * d, d),
                       p + 'attn.qkv.bias': (3 * d, ), p + 'attn.proj.weight': (d, d), p + 'attn.proj.bias': (d, )})
        if use_rel_pos:
            size = window_size if i in window_block_indexes else img_size // 16  # input_size of the Block
            shapes[p + 'attn.rel_pos_h'] = shapes[p + 'attn.rel_pos_w'] = (2 * size - 1, head_dim)
        shapes.update({p + 'norm2.weight': (d, ), p + 'norm2.bias': (d, ), p + 'mlp.fc1.weight': (hidden, d),
                       p + 'mlp.fc1.bias': (hidden, ), p + 'mlp.fc2.weight': (d, hidden), p + 'mlp.fc2.bias': (d, )})
    return shapes


def random_state(shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, shape in shapes.items():
        base = 1. if k.endswith('weight') and len(shape) == 1 else 0.  # LayerNorm weights around 1
        state[k] = base + torch.randn(*shape, generator=g) * (0.3 if 'rel_pos' in k else 0.1)
    return state


def ref_window_partition(x, window_size):
    """detectron2 modeling/backbone/utils.py::window_partition."""
    B, H, W, C = x.shape
    pad_h = (window_size - H % window_size) % window_size
    pad_w = (window_size - W % window_size) % window_size
    if pad_h > 0 or pad_w > 0:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    Hp, Wp = H + pad_h, W + pad_w
    x = x.view(B, Hp // window_size, window_size, Wp // window_size, window_size, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, C), (Hp, Wp)


def ref_window_unpartition(windows, window_size, pad_hw, hw):
    """detectron2 window_unpartition."""
    (Hp, Wp), (H, W) = pad_hw, hw
    B = windows.shape[0] // (Hp * Wp // window_size // window_size)
    x = windows.view(B, Hp // window_size, Wp // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, Hp, Wp, -1)
    return x[:, :H, :W, :].contiguous() if Hp > H or Wp > W else x


def ref_get_rel_pos(q_size, k_size, rel_pos):
    """detectron2 get_rel_pos: linear resize of the table, then gather by offset."""
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        rel_pos_resized = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
                                        size=max_rel_dist, mode='linear')
        rel_pos_resized = rel_pos_resized.reshape(-1, max_rel_dist).permute(1, 0)
    else:
        rel_pos_resized = rel_pos
    q_coords = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    relative_coords = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos_resized[relative_coords.long()]


def ref_add_decomposed_rel_pos(attn, q, rel_pos_h, rel_pos_w, q_size, k_size):
    q_h, q_w = q_size
    k_h, k_w = k_size
    Rh = ref_get_rel_pos(q_h, k_h, rel_pos_h)
    Rw = ref_get_rel_pos(q_w, k_w, rel_pos_w)
    B, _, dim = q.shape
    r_q = q.reshape(B, q_h, q_w, dim)
    rel_h = torch.einsum('bhwc,hkc->bhwk', r_q, Rh)
    rel_w = torch.einsum('bhwc,wkc->bhwk', r_q, Rw)
    return (attn.view(B, q_h, q_w, k_h, k_w) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).view(
        B, q_h * q_w, k_h * k_w)


def ref_get_abs_pos(abs_pos, has_cls_token, hw):
    """detectron2 get_abs_pos: bicubic, align_corners=False, to the token grid."""
    h, w = hw
    if has_cls_token:
        abs_pos = abs_pos[:, 1:]
    size = int(math.sqrt(abs_pos.shape[1]))
    if size != h or size != w:
        new_abs_pos = F.interpolate(abs_pos.reshape(1, size, size, -1).permute(0, 3, 1, 2), size=(h, w),
                                    mode='bicubic', align_corners=False)
        return new_abs_pos.permute(0, 2, 3, 1)
    return abs_pos.reshape(1, h, w, -1)


def official_forward(sd, x, depth, num_heads, window_size, window_block_indexes, eps=1e-6, patch_size=(4, 2, 2)):
    """``ConvViT.forward`` (lines 353-375) with ``norm_layer=partial(nn.LayerNorm, eps=1e-6)``, functionally."""

    def ln(t, p, e=eps):
        return F.layer_norm(t, t.shape[-1:], sd[p + '.weight'], sd[p + '.bias'], e)

    def conv(t, p, **kw):
        return F.conv2d(t, sd[p + '.weight'], sd[p + '.bias'], **kw)

    def lin(t, p):
        return F.linear(t, sd[p + '.weight'], sd[p + '.bias'])

    for s in (1, 2, 3):
        # PatchEmbed: proj, nn.LayerNorm(embed_dim) (default eps 1e-5) channels-last, GELU
        x = conv(x, f'patch_embed{s}.proj', stride=patch_size[s - 1])
        x = F.gelu(ln(x.permute(0, 2, 3, 1), f'patch_embed{s}.norm', 1e-5).permute(0, 3, 1, 2))
        if s == 3:
            break
        for b in range(depth[s - 1]):  # CBlock.forward without mask
            p = f'blocks{s}.{b}.'
            c = x.shape[1]
            y = conv(ln(x.permute(0, 2, 3, 1), p + 'norm1').permute(0, 3, 1, 2), p + 'conv1')
            x = x + conv(conv(y, p + 'attn', padding=2, groups=c), p + 'conv2')
            y = conv(ln(x.permute(0, 2, 3, 1), p + 'norm2').permute(0, 3, 1, 2), p + 'mlp.fc1')
            x = x + conv(F.gelu(y), p + 'mlp.fc2')
    x = lin(x.permute(0, 2, 3, 1), 'patch_embed4')
    x = x + ref_get_abs_pos(sd['pos_embed'], False, (x.shape[1], x.shape[2]))
    for i in range(depth[2]):  # Block.forward
        p = f'blocks3.{i}.'
        shortcut = x
        x = ln(x, p + 'norm1')
        ws = window_size if i in window_block_indexes else 0
        if ws > 0:
            H, W = x.shape[1], x.shape[2]
            x, pad_hw = ref_window_partition(x, ws)
        B, H_, W_, C = x.shape  # Attention.forward
        qkv = lin(x, p + 'attn.qkv').reshape(B, H_ * W_, 3, num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, B * num_heads, H_ * W_, -1).unbind(0)
        attn = (q * (C // num_heads)**-0.5) @ k.transpose(-2, -1)
        attn = ref_add_decomposed_rel_pos(attn, q, sd[p + 'attn.rel_pos_h'], sd[p + 'attn.rel_pos_w'], (H_, W_),
                                          (H_, W_))
        attn = attn.softmax(dim=-1)
        x = (attn @ v).view(B, num_heads, H_, W_, -1).permute(0, 2, 3, 1, 4).reshape(B, H_, W_, -1)
        x = lin(x, p + 'attn.proj')
        if ws > 0:
            x = ref_window_unpartition(x, ws, pad_hw, (H, W))
        x = shortcut + x
        x = x + lin(F.gelu(lin(ln(x, p + 'norm2'), p + 'mlp.fc1')), p + 'mlp.fc2')
    return x.permute(0, 3, 1, 2)


# ---- parity -----------------------------------------------------------------------------------------------------
# (input size, what it exercises) with img_size=256 (global tables for a 16x16 grid), pos_embed 14x14, window 6
CASES = {
    'native 256x256': ((1, 256, 256), 'grid 16x16 = the tables grid; windows padded 16 -> 18; pos_embed 14 -> 16'),
    'resized 192x320': ((1, 192, 320), 'grid 12x20: global tables resized 31 -> 23 / 39; windows padded 20 -> 24'),
    'pretrain grid 224x224': ((1, 224, 224), 'grid 14x14 = pos_embed grid (no resize); tables 31 -> 27; padded'),
}


@torch.no_grad()
@pytest.mark.parametrize('case', list(CASES))
def test_matches_the_official_forward(case):
    (n, h, w), _ = CASES[case]
    shapes = official_key_shapes(img_size=256, embed_dim=TINY['embed_dims'], depth=TINY['depths'],
                                 num_heads=TINY['num_heads'], window_size=6)
    state = random_state(shapes)
    model = ConvMAEViTDet(TINY, img_size=256, window_size=6).eval()
    model.load_state_dict(state, strict=True)
    x = torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(1))
    (ours, ) = model(x)
    ref = official_forward(state, x, TINY['depths'], TINY['num_heads'], 6, WINDOW_BLOCKS)
    assert ours.shape == ref.shape == (n, TINY['embed_dims'][2], h // 16, w // 16)
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    print(f'\nConvMAEViTDet vs official, {case}: max|diff| / max|ref| = {rel:.3e}')
    assert rel <= TOL, (case, rel)


def test_rel_pos_helper_is_detectron2_get_rel_pos():
    table = torch.randn(31, 8)
    for q, k in ((16, 16), (12, 12), (20, 20), (8, 16), (16, 8)):
        torch.testing.assert_close(get_rel_pos(q, k, table), ref_get_rel_pos(q, k, table), rtol=0, atol=0)


def test_padded_windows_let_the_padding_take_part():
    """ViTDet semantics: the zero-padded (normalised) tokens are attended to, so a window of real tokens next to
    the padding differs from attention restricted to the real tokens."""
    model = ConvMAEViTDet(dict(embed_dims=[8, 16, 32], depths=[1, 1, 2], num_heads=2), img_size=64,
                          window_size=3, global_attn_indexes=(), use_rel_pos=False).eval()
    blk = model.blocks3[0]
    x = torch.randn(1, 4, 4, 32)
    with torch.no_grad():
        out = blk(x)
        # the bottom-right real token's window holds it and 8 padded zeros; attention over it alone is v itself
        y = blk.norm1(x)[:, 3:4, 3:4]
        alone = blk.attn(y)
        padded = blk.attn(F.pad(y, (0, 0, 0, 2, 0, 2)))[:, :1, :1]
    assert not torch.allclose(alone, padded, atol=1e-4)
    expected = x[:, 3:4, 3:4] + padded
    expected = expected + blk.mlp(blk.norm2(expected))
    torch.testing.assert_close(out[:, 3:4, 3:4], expected, rtol=1e-5, atol=1e-5)


# ---- keys, parameter count, checkpoints ---------------------------------------------------------------------------
def test_official_base_keys_and_parameter_count():
    official = official_key_shapes()
    with torch.device('meta'):
        model = ConvMAEViTDet('base')
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == official
    count = sum(math.prod(s) for s in official.values())
    assert sum(p.numel() for p in model.parameters()) == count
    print(f'\nConvMAEViTDet base parameters: {count} (official ConvViT as the config builds it)')
    assert len([k for k in ours if 'rel_pos' in k]) == 22
    assert model.out_channels == (768, ) and model.out_indices == (2, )
    assert [i for i, w in enumerate(model.windowed) if not w] == [1, 4, 7, 10]
    assert model.blocks3[0].attn.rel_pos_h.shape == (27, 64) and model.blocks3[1].attn.rel_pos_h.shape == (127, 64)
    assert model.blocks1[0].norm1.eps == 1e-6 and model.blocks3[0].norm1.eps == 1e-6
    assert model.patch_embed1.norm.eps == 1e-5  # PatchEmbed uses nn.LayerNorm's default
    # torch.linspace(0, 0.1, 15) over blocks1, blocks2, blocks3
    assert isinstance(model.blocks1[0].drop_path, nn.Identity)
    assert model.blocks3[0].drop_path.drop_prob == pytest.approx(.1 * 4 / 14)
    assert model.blocks3[-1].drop_path.drop_prob == pytest.approx(.1)


def tiny_official_state(seed=0):
    return random_state(official_key_shapes(img_size=256, embed_dim=TINY['embed_dims'], depth=TINY['depths'],
                                            num_heads=TINY['num_heads'], window_size=6), seed)


def test_released_encoder_and_official_detector_load(tmp_path):
    state = tiny_official_state()
    # convmae.pth: {'model': encoder + final norm}, no rel-pos tables (created at fine-tuning, zero-initialised)
    encoder = {k: v for k, v in state.items() if 'rel_pos' not in k}
    encoder.update({'norm.weight': torch.ones(32), 'norm.bias': torch.zeros(32)})
    torch.save({'model': encoder}, tmp_path / 'convmae.pth')
    model = ConvMAEViTDet(TINY, img_size=256, window_size=6,
                          init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'convmae.pth')))
    model.init_weights()
    report = model.pretrained_report
    assert report['unexpected'] == [] and sorted(report['missing']) == sorted(k for k in state if 'rel_pos' in k)
    assert torch.equal(model.pos_embed, encoder['pos_embed'])  # kept at 14x14, resized in the forward
    # a detectron2 detector checkpoint: {'model': {'backbone.net.*', 'backbone.simfp_*', heads}, 'iteration': ...}
    det = {'backbone.net.' + k: v for k, v in state.items()}
    det.update({'backbone.simfp_2.0.weight': torch.zeros(32, 16, 2, 2), 'roi_heads.box_head.conv1.weight':
                torch.zeros(1), 'proposal_generator.rpn_head.conv.conv0.weight': torch.zeros(1)})
    torch.save({'model': det, 'iteration': 184374}, tmp_path / 'model_final.pth')
    model = ConvMAEViTDet(TINY, img_size=256, window_size=6,
                          init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'model_final.pth')))
    model.init_weights()
    assert model.pretrained_report['missing'] == [] and model.pretrained_report['unexpected'] == []
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    # the converter CLI writes backbone.* keys that load strictly, the 22 tables included
    cli = runpy.run_path(str(ROOT / 'tools/convert/convmae.py'))  # the CLI's main, in this process
    cli['main']([str(tmp_path / 'model_final.pth'), str(tmp_path / 'out.pth')])
    out = torch.load(tmp_path / 'out.pth', map_location='cpu', weights_only=False)['state_dict']
    assert len([k for k in out if 'rel_pos' in k]) == 22
    report = load_pretrained(ConvMAEViTDet(TINY, img_size=256, window_size=6), str(tmp_path / 'out.pth'),
                             prefix='backbone.')
    assert report['missing'] == [] and report['unexpected'] == []


def test_other_variants_refuse_each_others_relative_position_tables():
    det = {'backbone.net.' + k: v for k, v in tiny_official_state().items()}
    with pytest.raises(ValueError, match=r'22 relative-position tensors.*ConvMAEViTDet'):
        load_pretrained(ConvMAEDet(TINY, img_size=256, window_size=4), det)
    alpha_vl = {k[len('backbone.net.'):]: v for k, v in det.items() if 'rel_pos' not in k}
    alpha_vl['windowed_rel_pos_bias.relative_position_bias_table'] = torch.zeros(49, 4)
    with pytest.raises(ValueError, match=r'windowed_rel_pos_bias.*ConvMAEDet'):
        load_pretrained(ConvMAEViTDet(TINY, img_size=256, window_size=6), alpha_vl)
    with pytest.raises(ValueError, match='ConvMAEViTDet'):
        load_pretrained(ConvMAEViTDet(TINY, img_size=256, window_size=6, use_rel_pos=False), det)


# ---- neck -------------------------------------------------------------------------------------------------------
def official_simfp_keys(dim=768, out=256, scale_factors=(4.0, 2.0, 1.0, 0.5)):
    """Parameter names and shapes of detectron2 SimpleFeaturePyramid(norm='LN') (vit.py), from its constructor."""
    keys = {}
    for scale in scale_factors:
        stage = int(math.log2(16 / scale))
        p, out_dim = f'simfp_{stage}.', dim
        if scale == 4.0:
            keys.update({p + '0.weight': (dim, dim // 2, 2, 2), p + '0.bias': (dim // 2, ),
                         p + '1.weight': (dim // 2, ), p + '1.bias': (dim // 2, ),
                         p + '3.weight': (dim // 2, dim // 4, 2, 2), p + '3.bias': (dim // 4, )})
            first, out_dim = 4, dim // 4
        elif scale == 2.0:
            keys.update({p + '0.weight': (dim, dim // 2, 2, 2), p + '0.bias': (dim // 2, )})
            first, out_dim = 1, dim // 2
        else:
            first = 0 if scale == 1.0 else 1
        keys.update({f'{p}{first}.weight': (out, out_dim, 1, 1), f'{p}{first}.norm.weight': (out, ),
                     f'{p}{first}.norm.bias': (out, ), f'{p}{first + 1}.weight': (out, out, 3, 3),
                     f'{p}{first + 1}.norm.weight': (out, ), f'{p}{first + 1}.norm.bias': (out, )})
    return keys


def ref_simfp(sd, x, scale_factors=(4.0, 2.0, 1.0, 0.5)):
    """detectron2 SimpleFeaturePyramid.forward + LastLevelMaxPool, with detectron2's LayerNorm (eps 1e-6)."""

    def d2_ln(t, p):
        u = t.mean(1, keepdim=True)
        s = (t - u).pow(2).mean(1, keepdim=True)
        t = (t - u) / torch.sqrt(s + 1e-6)
        return sd[p + '.weight'][:, None, None] * t + sd[p + '.bias'][:, None, None]

    outs = []
    for scale in scale_factors:
        p = f'simfp_{int(math.log2(16 / scale))}.'
        y, first = x, 0
        if scale == 4.0:
            y = F.conv_transpose2d(y, sd[p + '0.weight'], sd[p + '0.bias'], stride=2)
            y = F.gelu(d2_ln(y, p + '1'))
            y = F.conv_transpose2d(y, sd[p + '3.weight'], sd[p + '3.bias'], stride=2)
            first = 4
        elif scale == 2.0:
            y, first = F.conv_transpose2d(y, sd[p + '0.weight'], sd[p + '0.bias'], stride=2), 1
        elif scale == 0.5:
            y, first = F.max_pool2d(y, kernel_size=2, stride=2), 1
        y = d2_ln(F.conv2d(y, sd[f'{p}{first}.weight']), f'{p}{first}.norm')
        y = d2_ln(F.conv2d(y, sd[f'{p}{first + 1}.weight'], padding=1), f'{p}{first + 1}.norm')
        outs.append(y)
    outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2, padding=0))
    return outs


@torch.no_grad()
def test_simple_feature_pyramid_matches_detectron2():
    neck = SimpleFeaturePyramid(in_channels=32, out_channels=16).eval()
    official = official_simfp_keys(32, 16)
    assert {k: tuple(v.shape) for k, v in neck.state_dict().items()} == official
    state = random_state(official, seed=3)
    neck.load_state_dict(state)
    x = torch.randn(2, 32, 12, 20)
    outs = neck((x, ))
    ref = ref_simfp(state, x)
    assert [tuple(o.shape[-2:]) for o in outs] == [(48, 80), (24, 40), (12, 20), (6, 10), (3, 5)]
    for a, b in zip(outs, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='scale_factors'):
        SimpleFeaturePyramid(scale_factors=(4.0, 1.0))
    with pytest.raises(ValueError, match=r'expects an \(N, 32, H, W\)'):
        neck((torch.randn(1, 8, 4, 4), ))


# ---- optimizer groups of the entry config -----------------------------------------------------------------------
def official_lr_factor(name, lr_decay_rate, num_layers):
    """projects/ConvMAEDet/modeling/convmae.py::get_vit_lr_decay_rate (lines 378-396)."""
    layer_id = num_layers + 1
    if name.startswith('backbone'):
        if '.patch_embed' in name or '.blocks1.' in name or '.blocks2.' in name:
            layer_id = 0
        elif '.blocks3.' in name and '.residual.' not in name:
            layer_id = int(name[name.find('.blocks3.'):].split('.')[2]) + 1
    return lr_decay_rate**(num_layers + 1 - layer_id)


def test_optimizer_groups_follow_the_official_recipe():
    """detectron2 get_default_optimizer_params(weight_decay_norm=0, lr_factor_func=get_vit_lr_decay_rate,
    overrides={'pos_embed': {'weight_decay': 0}}): wd 0 only for torch.nn.LayerNorm modules (the backbone's; the
    neck / head "LN" is detectron2's own LayerNorm, which gets wd) and pos_embed; biases keep wd."""
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.registry import init_default_scope

    from mmconvmae.engine.optimizers.layer_decay import LayerDecayOptimWrapperConstructor
    cfg = Config.fromfile(ROOT / 'configs/demo/mask_rcnn_vitdet_convmae_demo.py')
    init_default_scope('mmdet')
    model = MMDET_MODELS.build(cfg.model)
    entry = Config.fromfile(ROOT / 'configs/mask_rcnn_vitdet_convmae_base_coco.py')
    assert cfg.optim_wrapper.paramwise_cfg == entry.optim_wrapper.paramwise_cfg
    ow = dict(cfg.optim_wrapper)
    constructor = LayerDecayOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=ow['optimizer']),
                                                    ow['paramwise_cfg'])
    groups = []
    constructor.add_params(groups, model)
    lr = {n: g['lr'] for g in groups for n in g['param_names']}
    wd = {n: g['weight_decay'] for g in groups for n in g['param_names']}
    base_lr, base_wd, rate = ow['optimizer']['lr'], ow['optimizer']['weight_decay'], 0.8
    depth3 = model.backbone.depths[2]
    backbone_ln = {f'backbone.{m}.{p}' for m, mod in model.backbone.named_modules()
                   if isinstance(mod, nn.LayerNorm) for p, _ in mod.named_parameters(recurse=False)}
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert sorted(lr) == sorted(names)
    for name in names:  # official names: backbone.net.* for the backbone, backbone.simfp_* for the neck
        official = 'backbone.net.' + name[9:] if name.startswith('backbone.') else (
            'backbone.' + name[5:] if name.startswith('neck.') else name)
        assert lr[name] == pytest.approx(base_lr * official_lr_factor(official, rate, depth3)), name
        want_wd = 0.0 if name in backbone_ln or name.split('.')[-1] == 'pos_embed' else base_wd
        assert wd[name] == pytest.approx(want_wd), name
    assert lr['backbone.pos_embed'] == pytest.approx(base_lr)  # official quirk: pos_embed at full lr
    assert any('rel_pos_h' in n and wd[n] == base_wd for n in names)  # rel-pos tables decay, as officially


# ---- configs ----------------------------------------------------------------------------------------------------
def test_entry_config_follows_mask_rcnn_vitdet_convmae_b_25ep():
    cfg = Config.fromfile(ROOT / 'configs/mask_rcnn_vitdet_convmae_base_coco.py')
    bb = cfg.model.backbone
    assert (bb.type, bb.arch, bb.img_size, bb.pretrain_img_size, bb.window_size, tuple(bb.global_attn_indexes),
            bb.drop_path_rate, bb.use_rel_pos) == ('mmconvmae.ConvMAEViTDet', 'base', 1024, 224, 14, (1, 4, 7, 10),
                                                   0.1, True)
    neck = cfg.model.neck
    assert (neck.type, neck.in_channels, neck.out_channels, tuple(neck.scale_factors), neck.top_block) == (
        'mmconvmae.SimpleFeaturePyramid', 768, 256, (4.0, 2.0, 1.0, 0.5), 'maxpool')
    assert neck.norm_cfg.type == 'mmconvmae.LN2d' and neck.norm_cfg.eps == 1e-6
    assert cfg.model.data_preprocessor.pad_size_divisor == 1024 and cfg.model.data_preprocessor.bgr_to_rgb
    assert cfg.model.rpn_head.num_convs == 2 and 'norm_cfg' not in cfg.model.rpn_head
    bbox, mask = cfg.model.roi_head.bbox_head, cfg.model.roi_head.mask_head
    assert bbox.type == 'Shared4Conv1FCBBoxHead' and bbox.norm_cfg.type == mask.norm_cfg.type == 'mmconvmae.LN2d'
    assert bbox.fc_out_channels == 1024 and mask.num_convs == 4
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert (cfg.optim_wrapper.optimizer.type, cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.betas,
            cfg.optim_wrapper.optimizer.weight_decay) == ('AdamW', 1e-4, (0.9, 0.999), 0.1)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.8
    assert (cfg.train_cfg.type, cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (
        'IterBasedTrainLoop', 184375, 7500)
    warmup, step = cfg.param_scheduler
    assert (warmup.start_factor, warmup.end, step.milestones, step.gamma) == (0.001, 250, [163889, 177546], 0.1)
    assert cfg.train_dataloader.batch_size * 8 == 16 and cfg.auto_scale_lr.base_batch_size == 16
    assert any(t.type == 'RandomResize' and t.ratio_range == (0.1, 2.0) and t.scale == (1024, 1024)
               for t in cfg.train_dataloader.dataset.pipeline)
    assert [t.type for t in cfg.test_dataloader.dataset.pipeline][:2] == ['LoadImageFromFile', 'Resize']
    assert not any(t.type == 'Pad' for t in cfg.test_dataloader.dataset.pipeline)


def test_demo_twin_trains_and_evaluates(tmp_path, synthetic_data):
    metrics = train_and_test(ROOT / 'configs/demo/mask_rcnn_vitdet_convmae_demo.py', tmp_path, synthetic_data)
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics
