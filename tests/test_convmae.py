"""ConvMAE backbone: sizes against the official modules, official keys, parity with the official DET / SEG /
fine-tune forwards (independent functional re-implementations), window / global layout, any input size, training
API, errors."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from mmconvmae.models import ConvMAE, ConvMAEDet
from mmconvmae.models.convert.convmae import convert_convmae_official
from mmconvmae.models.utils import load_pretrained

# M parameters of the official modules, ConvMAE-B (docs/convmae.md#arches)
SPEC = dict(stage1=1.34, stage2=3.37, stage3=79.89, encoder=84.6, finetune=85.4, det=87.8, seg=91.1)
TINY = dict(embed_dims=[16, 24, 32], depths=[2, 2, 11], num_heads=4)  # the official 2-2-11 layout, small dims


def millions(module, prefixes=None):
    return sum(p.numel() for n, p in module.named_parameters() if prefixes is None or n.startswith(prefixes)) / 1e6


def test_parameter_counts_match_spec():
    with torch.device('meta'):
        enc = ConvMAE('base', out_indices=(0, 1, 2))
        cls = ConvMAE('base', out_indices=2, out_type='avg_featmap')
        det = ConvMAEDet('base')
        seg = ConvMAE('base', img_size=512, rel_pos_bias='per_block', layer_scale_init_value=1.,
                      downsample32='conv', stage3_norm_eps=1e-5)
    got = dict(stage1=millions(enc, ('patch_embed1', 'blocks1')), stage2=millions(enc, ('patch_embed2', 'blocks2')),
               encoder=millions(enc), finetune=millions(cls) + (768 * 1000 + 1000) / 1e6, det=millions(det),
               seg=millions(seg))
    got['stage3'] = got['encoder'] - got['stage1'] - got['stage2']
    for key, want in SPEC.items():
        assert abs(got[key] - want) < 0.051, (key, got[key], want)
    assert det.out_channels == (256, 384, 768, 768) and det.strides == (4, 8, 16, 32)


def official_encoder_state(arch=TINY, grid=14, head=False, pretrain_norm=True):
    """Random tensors under the official key names and shapes (docs/convmae.md#what-is-official; written out
    here, not taken from our model)."""
    (d1, d2, d3), depths, sd = arch['embed_dims'], arch['depths'], {}
    g = torch.Generator().manual_seed(0)

    def r(*shape, scale=.1, base=0.):
        return base + torch.randn(*shape, generator=g) * scale

    for i, (cin, c, p) in enumerate([(3, d1, 4), (d1, d2, 2), (d2, d3, 2)], 1):
        sd[f'patch_embed{i}.proj.weight'], sd[f'patch_embed{i}.proj.bias'] = r(c, cin, p, p), r(c)
        sd[f'patch_embed{i}.norm.weight'], sd[f'patch_embed{i}.norm.bias'] = r(c, base=1.), r(c)
    sd['patch_embed4.weight'], sd['patch_embed4.bias'] = r(d3, d3), r(d3)
    sd['pos_embed'] = r(1, grid * grid, d3)
    for s, (depth, c) in enumerate(zip(depths[:2], (d1, d2)), 1):
        for b in range(depth):
            p = f'blocks{s}.{b}.'
            for n in ('norm1', 'norm2'):
                sd[p + n + '.weight'], sd[p + n + '.bias'] = r(c, base=1.), r(c)
            for n in ('conv1', 'conv2'):
                sd[p + n + '.weight'], sd[p + n + '.bias'] = r(c, c, 1, 1), r(c)
            sd[p + 'attn.weight'], sd[p + 'attn.bias'] = r(c, 1, 5, 5), r(c)
            sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'] = r(4 * c, c, 1, 1), r(4 * c)
            sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'] = r(c, 4 * c, 1, 1), r(c)
    for b in range(depths[2]):
        p = f'blocks3.{b}.'
        for n in ('norm1', 'norm2'):
            sd[p + n + '.weight'], sd[p + n + '.bias'] = r(d3, base=1.), r(d3)
        sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias'] = r(3 * d3, d3), r(3 * d3)
        sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'] = r(d3, d3), r(d3)
        sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'] = r(4 * d3, d3), r(4 * d3)
        sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'] = r(d3, 4 * d3), r(d3)
    if pretrain_norm:
        sd['norm.weight'], sd['norm.bias'] = r(d3, base=1.), r(d3)
    if head:
        sd['fc_norm.weight'], sd['fc_norm.bias'] = r(d3, base=1.), r(d3)
        sd['head.weight'], sd['head.bias'] = r(1000, d3), r(1000)
    return sd


# ---- independent functional version of the official forwards (models_convvit.py, DET/, SEG/) ------------------------
def _ln(x, sd, p, eps):
    return F.layer_norm(x, x.shape[-1:], sd[p + '.weight'], sd[p + '.bias'], eps)


def _ln_channels(x, sd, p, eps=1e-5):
    return _ln(x.permute(0, 2, 3, 1), sd, p, eps).permute(0, 3, 1, 2)


def _conv_stages(sd, x, depths):
    outs = []
    for s in (1, 2, 3):
        w = sd[f'patch_embed{s}.proj.weight']
        x = F.conv2d(x, w, sd[f'patch_embed{s}.proj.bias'], stride=w.shape[-1])
        x = F.gelu(_ln_channels(x, sd, f'patch_embed{s}.norm'))
        if s == 3:
            break
        for b in range(depths[s - 1]):
            p = f'blocks{s}.{b}.'
            y = F.conv2d(_ln_channels(x, sd, p + 'norm1'), sd[p + 'conv1.weight'], sd[p + 'conv1.bias'])
            y = F.conv2d(y, sd[p + 'attn.weight'], sd[p + 'attn.bias'], padding=2, groups=y.shape[1])
            x = x + F.conv2d(y, sd[p + 'conv2.weight'], sd[p + 'conv2.bias'])
            y = F.gelu(F.conv2d(_ln_channels(x, sd, p + 'norm2'), sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias']))
            x = x + F.conv2d(y, sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
        outs.append(x)
    return outs, x


def _beit_index(wh, ww):
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    return rel.sum(-1)


def _table_bias(table, wh, ww):
    return table[_beit_index(wh, ww).view(-1)].view(wh * ww, wh * ww, -1).permute(2, 0, 1)


def _block(sd, p, x, heads, bias=None, eps=1e-6, gamma=False):
    b, n, c = x.shape
    qkv = F.linear(_ln(x, sd, p + 'norm1', eps), sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias'])
    q, k, v = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1)) * (c // heads)**-0.5
    if bias is not None:
        attn = attn + bias
    y = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
    y = F.linear(y, sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'])
    x = x + (sd[p + 'gamma_1'] * y if gamma else y)
    y = F.linear(F.gelu(F.linear(_ln(x, sd, p + 'norm2', eps), sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'])),
                 sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
    return x + (sd[p + 'gamma_2'] * y if gamma else y)


def official_det_forward(sd, x, depths, heads, ws, global_idx):
    """``ConvViTDet.forward`` (grid divisible by the window): einops windows, shared BEiT tables."""
    (s0, s1), x = _conv_stages(sd, x, depths)
    gh, gw = x.shape[-2:]
    x = F.linear(x.flatten(2).permute(0, 2, 1), sd['patch_embed4.weight'], sd['patch_embed4.bias']) + sd['pos_embed']
    wbias = _table_bias(sd['windowed_rel_pos_bias.relative_position_bias_table'], ws, ws)
    gbias = _table_bias(sd['global_rel_pos_bias.relative_position_bias_table'], gh, gw)
    for i in range(depths[2]):
        if i in global_idx:
            x = _block(sd, f'blocks3.{i}.', x, heads, gbias)
        else:
            t = rearrange(x, 'b (h h1 w w1) c -> (b h w) (h1 w1) c', h=gh // ws, w=gw // ws, h1=ws, w1=ws)
            t = _block(sd, f'blocks3.{i}.', t, heads, wbias)
            x = rearrange(t, '(b h w) (h1 w1) c -> b (h h1 w w1) c', h=gh // ws, w=gw // ws, h1=ws, w1=ws)
    s2 = rearrange(x, 'b (h w) c -> b c h w', h=gh, w=gw)
    return s0, s1, s2, F.max_pool2d(s2, 2)


def official_seg_forward(sd, x, depths, heads):
    """SEG ``ConvMAE.forward_features``: global attention, per-block tables, layer scale, LN eps 1e-5, ``fpn``
    conv 3x3/2 without padding + BN (eval) + GELU."""
    (s0, s1), x = _conv_stages(sd, x, depths)
    gh, gw = x.shape[-2:]
    x = F.linear(x.flatten(2).permute(0, 2, 1), sd['patch_embed4.weight'], sd['patch_embed4.bias']) + sd['pos_embed']
    for i in range(depths[2]):
        p = f'blocks3.{i}.'
        x = _block(sd, p, x, heads, _table_bias(sd[p + 'attn.relative_position_bias_table'], gh, gw)[None],
                   eps=1e-5, gamma=True)
    s2 = x.permute(0, 2, 1).reshape(x.shape[0], -1, gh, gw)
    y = F.conv2d(s2, sd['fpn.0.weight'], sd['fpn.0.bias'], stride=2)
    y = F.batch_norm(y, sd['fpn.1.running_mean'], sd['fpn.1.running_var'], sd['fpn.1.weight'], sd['fpn.1.bias'],
                     eps=1e-5)
    return s0, s1, s2, F.gelu(y)


def randomize(state, keys):
    g = torch.Generator().manual_seed(1)
    for k in keys:
        state[k] = torch.randn(state[k].shape, generator=g) * (0.5 if 'table' in k else 0.1) + (
            1. if 'gamma' in k or k.endswith(('running_var', 'fpn.1.weight')) else 0.)
    return state


# ---- keys and loading ---------------------------------------------------------------------------------------------
def test_state_dict_keys_are_the_official_scheme():
    official = official_encoder_state(ConvMAE.arch_zoo['base'], pretrain_norm=False)
    with torch.device('meta'):
        ours = ConvMAE('base', out_indices=(0, 1, 2)).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in official.items()}


def test_released_encoder_loads_with_nothing_missing(tmp_path):
    """``convmae.pth`` layout: ``{'model': encoder + norm}`` at 224; DET interpolates pos_embed 14 -> grid."""
    sd = official_encoder_state(grid=14)
    path = tmp_path / 'convmae.pth'
    torch.save({'model': sd, 'args': None}, path)
    enc = ConvMAE(TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    enc.init_weights()
    assert enc.pretrained_report['missing'] == [] and enc.pretrained_report['unexpected'] == []
    for k, v in enc.state_dict().items():
        assert torch.equal(v, sd[k]), k
    det = ConvMAEDet(TINY, img_size=256, window_size=4, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    det.init_weights()
    assert sorted(det.pretrained_report['missing']) == [
        'global_rel_pos_bias.relative_position_bias_table', 'windowed_rel_pos_bias.relative_position_bias_table']
    want = F.interpolate(sd['pos_embed'].reshape(1, 14, 14, -1).permute(0, 3, 1, 2), size=(16, 16), mode='bicubic',
                         align_corners=False).permute(0, 2, 3, 1).reshape(1, 256, -1)
    assert torch.allclose(det.pos_embed, want, atol=1e-6) and not det.pos_embed.requires_grad


def test_official_downstream_checkpoints_convert():
    """DET (``backbone.bottom_up.``) and SEG (``backbone.``) checkpoints: backbone taken, index buffers dropped."""
    sd = official_encoder_state(pretrain_norm=False)
    det = {'backbone.bottom_up.' + k: v for k, v in sd.items()}
    det['backbone.bottom_up.global_rel_pos_bias.relative_position_index'] = torch.zeros(4, 4, dtype=torch.long)
    det['backbone.fpn_lateral2.weight'] = torch.zeros(1)
    assert list(convert_convmae_official(det)) == list(sd)
    seg = {'backbone.' + k: v for k, v in sd.items()}
    seg['decode_head.conv_seg.weight'] = torch.zeros(1)
    assert list(convert_convmae_official(seg)) == list(sd)
    pre = dict(sd, mask_token=torch.zeros(1, 1, 8), **{'decoder_embed.weight': torch.zeros(8, 32),
                                                       'stage1_output_decode.weight': torch.zeros(1)})
    assert list(convert_convmae_official(pre)) == list(sd)
    assert 'stage1_output_decode.weight' in convert_convmae_official(pre, keep_pretrain=True)


def test_checkpoint_with_mismatched_shapes_is_refused():
    sd = official_encoder_state()
    sd['blocks3.0.attn.qkv.weight'] = torch.zeros(5, 32)
    with pytest.raises(ValueError, match=r'blocks3\.0\.attn\.qkv\.weight: \(5, 32\)'):
        load_pretrained(ConvMAE(TINY), {'model': sd})


# ---- parity with the official forwards --------------------------------------------------------------------------
@torch.no_grad()
def test_detection_backbone_matches_official_det():
    model = ConvMAEDet(TINY, img_size=256, window_size=4).eval()
    state = official_encoder_state(grid=16, pretrain_norm=False)
    state.update(randomize({k: v.clone() for k, v in model.state_dict().items() if 'rel_pos' in k},
                           [k for k in model.state_dict() if 'rel_pos' in k]))
    model.load_state_dict(state)
    x = torch.randn(2, 3, 256, 256)
    ours = model(x)
    ref = official_det_forward(state, x, TINY['depths'], 4, 4, (0, 3, 6, 10))
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@torch.no_grad()
def test_segmentation_switch_matches_official_seg():
    model = ConvMAE(TINY, img_size=128, rel_pos_bias='per_block', layer_scale_init_value=1., downsample32='conv',
                    stage3_norm_eps=1e-5, norm_cfg=dict(type='BN')).eval()
    state = model.state_dict()
    state.update(official_encoder_state(grid=8, pretrain_norm=False))
    randomize(state, [k for k in state if 'table' in k or 'gamma' in k or k.startswith('fpn.')
                      and 'num_batches' not in k])
    state['fpn.1.running_var'] = state['fpn.1.running_var'].abs()
    model.load_state_dict(state)
    x = torch.randn(2, 3, 128, 128)
    for a, b in zip(model(x), official_seg_forward(state, x, TINY['depths'], 4)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert model(x)[3].shape[-2:] == (3, 3)  # (8 - 3) // 2 + 1, the official unpadded conv


@torch.no_grad()
def test_classification_matches_official_finetune_forward():
    """``models_convvit.ConvViT.forward_features`` (global_pool): ... blocks3 -> mean -> fc_norm."""
    model = ConvMAE(TINY, out_indices=2, out_type='avg_featmap').eval()
    sd = official_encoder_state(head=True, pretrain_norm=False)
    report = load_pretrained(model, {'model': sd})
    assert report['missing'] == [] and report['unexpected'] == []
    x = torch.randn(2, 3, 224, 224)
    _, t = _conv_stages(sd, x, TINY['depths'])
    t = F.linear(t.flatten(2).transpose(1, 2), sd['patch_embed4.weight'], sd['patch_embed4.bias']) + sd['pos_embed']
    for i in range(11):
        t = _block(sd, f'blocks3.{i}.', t, 4)
    torch.testing.assert_close(model(x)[0], _ln(t.mean(1), sd, 'fc_norm', 1e-6), rtol=1e-4, atol=1e-4)


# ---- layout, any input size ---------------------------------------------------------------------------------------
def attention_extents(model, x):
    """Number of tokens each stage-3 block attends over (from the attention input shapes)."""
    seen = []
    hooks = [blk.attn.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape[1])) for blk in model.blocks3]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize('global_idx', [(0, 3, 6, 10), (1, 4, 7, 10), (-1, )])
def test_window_global_layout_is_what_the_config_says(global_idx):
    model = ConvMAEDet(TINY, img_size=128, window_size=2, global_attn_indexes=global_idx).eval()
    want = {i % 11 for i in global_idx}
    assert [i for i in range(11) if not model.windowed[i]] == sorted(want)
    extents = attention_extents(model, torch.randn(1, 3, 128, 128))
    assert extents == [64 if i in want else 4 for i in range(11)]


@pytest.mark.parametrize('size', [(800, 1216), (513, 769)])
def test_odd_input_sizes_give_strided_outputs(size):
    model = ConvMAEDet(dict(embed_dims=[8, 16, 32], depths=[1, 1, 4], num_heads=2), img_size=256, window_size=16,
                       global_attn_indexes=(0, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (c, math.ceil(size[0] / s), math.ceil(size[1] / s)) for c, s in zip((8, 16, 32, 32), (4, 8, 16, 32))]


@torch.no_grad()
def test_base_channels_and_strides_at_an_odd_size():
    model = ConvMAEDet('base').eval()
    outs = model(torch.randn(1, 3, 65, 97))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 17, 25), (384, 9, 13), (768, 5, 7), (768, 3, 4)]


@torch.no_grad()
def test_all_global_with_window_equal_to_grid_is_the_plain_encoder():
    plain = ConvMAE(TINY, img_size=128).eval()
    for global_idx in [(), (0, 3, 6, 10)]:
        det = ConvMAEDet(TINY, img_size=128, window_size=8, global_attn_indexes=global_idx).eval()
        report = load_pretrained(det, plain.state_dict())
        assert sorted(report['missing']) == sorted(k for k in det.state_dict() if 'rel_pos' in k)
        x = torch.randn(2, 3, 128, 128)
        for a, b in zip(det(x), plain(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_padded_windows_equal_attention_within_the_real_windows():
    """Grid 6x6 with window 4: padding to 8 and masking padded keys = attention restricted to the tokens of each
    (smaller, at the border) window, with the table offsets of those tokens."""
    model = ConvMAEDet(TINY, img_size=96, window_size=4, global_attn_indexes=()).eval()
    randomize_state = randomize(model.state_dict(), ['windowed_rel_pos_bias.relative_position_bias_table'])
    model.load_state_dict(randomize_state)
    x = torch.randn(1, 6, 6, 32)
    ours = model.forward_stage3(x)
    sd = model.state_dict()
    table = sd['windowed_rel_pos_bias.relative_position_bias_table'].t().reshape(4, 7, 7)
    ys, xs = torch.meshgrid(torch.arange(6), torch.arange(6), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    win = (ys // 4) * 2 + xs // 4
    t = x.reshape(1, 36, 32)
    for i in range(11):
        out = torch.empty_like(t)
        for w in range(4):
            idx = (win == w).nonzero()[:, 0]
            bias = table[:, (ys[idx, None] - ys[None, idx]) + 3, (xs[idx, None] - xs[None, idx]) + 3]
            out[:, idx] = _block(sd, f'blocks3.{i}.', t[:, idx], 4, bias)
        t = out
    torch.testing.assert_close(ours.reshape(1, 36, 32), t, rtol=1e-4, atol=1e-4)


# ---- training API -----------------------------------------------------------------------------------------------
def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    a = ConvMAEDet(TINY, img_size=64, window_size=2, drop_path_rate=0.)
    b = ConvMAEDet(TINY, img_size=64, window_size=2, drop_path_rate=0., with_cp=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64)
    for m in (a, b):
        sum(o.sum() for o in m(x)).backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=n)


def test_frozen_stages_and_norm_eval():
    model = ConvMAE(TINY, frozen_stages=2, downsample32='conv', norm_cfg=dict(type='BN'), norm_eval=True)
    model.train()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters() if n.startswith(('patch_embed1', 'patch_embed2',
                                                                            'blocks1', 'blocks2'))}
    assert not model.fpn[1].training and model.blocks3[0].training
    model = ConvMAEDet(TINY, img_size=64, window_size=2, frozen_stages=3)
    assert all(not p.requires_grad for n, p in model.named_parameters())


def test_patch_norm_option_keeps_the_official_layernorm_by_default():
    """``patch_norm_cfg``: the official channel LayerNorm (eps 1e-5) unless a from-scratch run asks for BatchNorm
    or no norm (docs/convmae.md, "Main demo"); only the ``patch_embed*.norm`` entries change."""
    from mmconvmae.models.utils.layers import LayerNorm2d
    x = torch.randn(2, 3, 64, 64)
    default = ConvMAE(TINY, img_size=64)
    assert all(type(getattr(default, f'patch_embed{i}').norm) is LayerNorm2d for i in (1, 2, 3))
    assert default.patch_embed1.norm.eps == 1e-5
    keys = set(default.state_dict())
    bn = ConvMAE(TINY, img_size=64, patch_norm_cfg=dict(type='BN'))
    assert all(isinstance(getattr(bn, f'patch_embed{i}').norm, nn.BatchNorm2d) for i in (1, 2, 3))
    extra = set(bn.state_dict()) - keys
    assert extra == {f'patch_embed{i}.norm.{k}' for i in (1, 2, 3)
                     for k in ('running_mean', 'running_var', 'num_batches_tracked')}
    none = ConvMAE(TINY, img_size=64, patch_norm_cfg=None)
    assert keys - set(none.state_dict()) == {f'patch_embed{i}.norm.{k}' for i in (1, 2, 3) for k in ('weight', 'bias')}
    none.load_state_dict(default.state_dict(), strict=False)
    with torch.no_grad():  # without the norm patch_embed1 is conv -> GELU
        ref = F.gelu(default.patch_embed1.proj(x))
        assert torch.allclose(none.patch_embed1(x), ref)
    assert [tuple(o.shape) for o in bn(x)] == [tuple(o.shape) for o in default(x)]


def test_layer_depth_follows_the_official_lr_decay():
    from mmconvmae.engine.optimizers.layer_decay import LayerDecayOptimWrapperConstructor
    model = ConvMAE('base', img_size=64, downsample32='conv', norm_cfg=dict(type='BN'))
    assert model.get_layer_depth('patch_embed4.weight') == (0, 13)
    assert model.get_layer_depth('blocks2.1.attn.weight') == (0, 13)
    assert model.get_layer_depth('blocks3.10.mlp.fc1.weight') == (11, 13)
    assert model.get_layer_depth('fpn.0.weight') == (12, 13)
    assert model.get_layer_depth('backbone.blocks3.10.mlp.fc1.weight', 'backbone.') == (11, 13)  # mmpretrain's call
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (12, 13)
    with pytest.raises(ValueError, match='layer_wise'):
        model.get_layer_depth('blocks3.0.norm1.weight', decay_type='stage_wise')
    wrapper = nn.Module()
    wrapper.backbone = model
    constructor = LayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1., weight_decay=0.05)),
        dict(layer_decay_rate=0.65))
    groups = []
    constructor.add_params(groups, wrapper)
    scale = {n: g['lr_scale'] for g in groups for n in g['param_names']}
    decay = {n: g['weight_decay'] for g in groups for n in g['param_names']}
    assert scale['backbone.patch_embed1.proj.weight'] == pytest.approx(0.65**12)
    assert scale['backbone.blocks3.0.attn.qkv.weight'] == pytest.approx(0.65**11)
    assert scale['backbone.fpn.0.weight'] == 1.
    assert decay['backbone.pos_embed'] == 0. and decay['backbone.blocks3.0.attn.qkv.weight'] == 0.05


# ---- errors ----------------------------------------------------------------------------------------------------
def test_bad_arguments_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r'global_attn_indexes must be integers in \[-11, 10\].*got 11'):
        ConvMAEDet(TINY, global_attn_indexes=(0, 11))
    with pytest.raises(ValueError, match='Unknown ConvMAE arch'):
        ConvMAE('tiny')
    with pytest.raises(ValueError, match='rel_pos_bias'):
        ConvMAE(TINY, rel_pos_bias='decomposed')
    with pytest.raises(ValueError, match='out_indices=2'):
        ConvMAE(TINY, out_type='avg_featmap')
    with pytest.raises(ValueError, match='window_size'):
        ConvMAEDet(TINY, window_size=0)
    model = ConvMAEDet(TINY, img_size=128, window_size=3, pad_to_window=False)
    with pytest.raises(ValueError, match=r'window_size 3 does not divide the stage-3 grid 8x8.*pad_to_window'):
        model(torch.randn(1, 3, 128, 128))
    with pytest.raises(ValueError, match=r'expects \(N, 3, H, W\)'):
        model(torch.randn(3, 128, 128))


# ---- converter CLI ---------------------------------------------------------------------------------------------
def test_converter_cli_writes_loadable_checkpoints(tmp_path):
    import argparse

    from helpers import run_tool
    sd = official_encoder_state(head=True)
    src = tmp_path / 'checkpoint-99.pth'
    torch.save({'model': sd, 'args': argparse.Namespace(lr=1e-3), 'epoch': 99}, src)  # official file layout
    run_tool('convert/convmae.py', src, tmp_path / 'out.pth')
    out = torch.load(tmp_path / 'out.pth', map_location='cpu', weights_only=False)['state_dict']
    assert torch.equal(out['head.fc.weight'], sd['head.weight']) and 'backbone.head.weight' not in out
    model = ConvMAE(TINY, out_indices=2, out_type='avg_featmap')
    report = load_pretrained(model, str(tmp_path / 'out.pth'), prefix='backbone.')
    assert report['missing'] == [] and report['unexpected'] == []
    bad = tmp_path / 'bad.pth'
    torch.save({'model': {'foo.weight': torch.zeros(1)}}, bad)
    proc = run_tool('convert/convmae.py', bad, tmp_path / 'x.pth', check=False)
    assert proc.returncode != 0 and 'no ConvMAE encoder' in proc.stderr
