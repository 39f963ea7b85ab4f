"""iTPN: HiViT backbone, the pyramid neck and the pretraining algorithm (unit / property / parity tests)."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mmconvmae.models import HiViT, iTPNPyramid
from mmconvmae.models.backbones.hivit import map_to_units, units_to_map
from mmconvmae.models.convert.itpn import convert_itpn_official
from mmconvmae.models.selfsup.itpn import iTPNPixelHead
from mmconvmae.models.utils import load_pretrained

TINY = dict(embed_dims=64, depths=[2, 2, 2], num_heads=2)


# ---- sizes -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('arch, backbone, fpn1, fpn2', [('base', 77.904, 3.648, 4.700),
                                                       ('large', 287.373, 4.025, 5.078)])
def test_param_counts_match_the_spec(arch, backbone, fpn1, fpn2):
    """docs/itpn.md#architectures: iTPN-B 77.9 M (paper 79 M with head), iTPN-L 287.4 M (288 M); pyramid 3.65/4.70 M (B)
    and 4.03/5.08 M (L) for fpn_depth 1/2."""
    with torch.device('meta'):
        m = HiViT(arch)
        counts = [sum(p.numel() for p in mod.parameters()) / 1e6
                  for mod in (m, iTPNPyramid(m.embed_dims, fpn_depth=1), iTPNPyramid(m.embed_dims, fpn_depth=2))]
    assert counts == pytest.approx([backbone, fpn1, fpn2], abs=1e-3)
    assert len(m.blocks) == sum(m.depths) + 2


# ---- official checkpoints --------------------------------------------------------------------------------
def official_state(E=512, depths=(3, 3, 24), heads=8, F=256, fpn_depth=2, clip=False, teacher=512):
    """Official iTPN pretraining state dict names and shapes written out from the official models_itpn.py (pixel) and
    modeling_pretrain.py (CLIP)."""
    shapes = {'absolute_pos_embed': (1, 196, E), 'patch_embed.proj.weight': (E // 4, 3, 4, 4),
              'patch_embed.proj.bias': (E // 4, ), 'patch_embed.norm.weight': (E // 4, ),
              'patch_embed.norm.bias': (E // 4, )}

    def ln(name, d):
        shapes.update({f'{name}.weight': (d, ), f'{name}.bias': (d, )})

    def block(p, d, ratio, attn=False, gammas=False, rpe=False):
        if attn:
            ln(p + 'norm1', d)
            shapes.update({p + 'attn.qkv.weight': (3 * d, d), p + 'attn.qkv.bias': (3 * d, ),
                           p + 'attn.proj.weight': (d, d), p + 'attn.proj.bias': (d, )})
            if rpe:
                shapes[p + 'attn.relative_position_bias_table'] = (729, heads)
            if gammas:
                shapes[p + 'gamma_1'] = (d, )
        if gammas:
            shapes[p + 'gamma_2'] = (d, )
        ln(p + 'norm2', d)
        shapes.update({p + 'mlp.fc1.weight': (ratio * d, d), p + 'mlp.fc1.bias': (ratio * d, ),
                       p + 'mlp.fc2.weight': (d, ratio * d), p + 'mlp.fc2.bias': (d, )})

    i = 0
    for s, (depth, d) in enumerate(zip(depths, (E // 4, E // 2, E))):
        for _ in range(depth):
            block(f'blocks.{i}.', d, 4 if s == 2 else 3, attn=s == 2, gammas=clip, rpe=clip)
            i += 1
        if s < 2:
            ln(f'blocks.{i}.norm', 4 * d)
            shapes[f'blocks.{i}.reduction.weight'] = (2 * d, 4 * d)
            i += 1
    shapes.update({'align_dim_16tofpn.weight': (F, E), 'align_dim_16tofpn.bias': (F, ), 'align_dim_16to8.weight':
                   (F, E // 2), 'split_16to8.reduction.weight': (4 * F, E), 'align_dim_8to4.weight': (F, E // 4),
                   'split_8to4.reduction.weight': (4 * F, F)})
    ln('split_16to8.norm', E)
    ln('split_8to4.norm', F)
    for k in range(3):
        block(f'fpn_modules.{k}.', F, 4)
    for j in range(fpn_depth):
        block(f'block_16to8.{j}.', F, 4)
        block(f'block_8to4.{j}.', F, 4)
    D = 512 if not clip else E
    for k in range(3):
        ln(f'decoder_embed.{k}.0', F)
        shapes.update({f'decoder_embed.{k}.1.weight': (D // 4**k, F), f'decoder_embed.{k}.1.bias': (D // 4**k, )})
    if clip:
        shapes.update({'mask_token': (1, 1, E), 'relative_position_index': (196, 196), 'lm_head.weight': (teacher, E),
                       'lm_head.bias': (teacher, ), 'lm_cls_head.weight': (teacher, E),
                       'lm_cls_head.bias': (teacher, )})
        ln('norm', E)
        ln('norm_cls', E)
        for j in range(2):
            block(f'cls_pt_layers.{j}.', E, 4, attn=True, gammas=True, rpe=True)
    else:
        shapes.update({'mask_token': (1, 1, 512), 'decoder_pos_embed': (1, 196, 512), 'decoder_pred.weight': (768, 512),
                       'decoder_pred.bias': (768, )})
        ln('decoder_norm', 512)
        for j in range(8):
            block(f'decoder_blocks.{j}.', 512, 4, attn=True)
    g = torch.Generator().manual_seed(0)
    return {k: torch.randint(0, 729, v, generator=g) if k == 'relative_position_index' else
            torch.randn(v, generator=g) for k, v in shapes.items()}


@pytest.mark.parametrize('clip', [False, True], ids=['pixel', 'clip'])
def test_official_checkpoint_fills_backbone_neck_and_pretraining_model(clip):
    """A state dict with the official names/shapes (docs/itpn.md#what-is-official) loads into HiViT and
    iTPNPyramid with nothing missing, and (through convert_itpn_official) into our pretraining model with nothing
    missing or left over besides the fixed buffers."""
    from mmpretrain.registry import MODELS
    state = official_state(clip=clip, fpn_depth=1 if clip else 2)
    kw = dict(rel_pos_bias='per_block', layer_scale_init_value=0.1, mask_token=True) if clip else {}
    backbone = HiViT('base', **kw)
    report = load_pretrained(backbone, {'model': state})
    assert report['missing'] == [] and report['unexpected'] == []
    assert torch.equal(backbone.blocks[31].mlp.fc2.weight, state['blocks.31.mlp.fc2.weight'])
    neck = iTPNPyramid(512, fpn_depth=1 if clip else 2)
    report = load_pretrained(neck, {'model': state})
    assert report['missing'] == [] and report['unexpected'] == [] and len(report['loaded']) == len(neck.state_dict())

    head = (dict(type='mmconvmae.iTPNCLIPHead') if clip else dict(type='mmconvmae.iTPNPixelHead'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(dict(
            type='mmconvmae.iTPN', target='clip' if clip else 'pixel',
            backbone=dict(type='mmconvmae.HiViT', **kw), head=head,
            neck=dict(type='mmconvmae.iTPNPyramid', out_type='units', fpn_depth=1 if clip else 2),
            target_generator=dict(type='mmconvmae.CLIPTeacher', layers=1) if clip else None))
    converted = convert_itpn_official(state)
    result = model.load_state_dict(converted, strict=False)
    assert [k for k in result.missing_keys if not k.startswith('target_generator.')] == []
    assert result.unexpected_keys == []


def test_official_finetuned_checkpoint_and_resized_tables():
    """Fine-tuned files carry head.* (dropped), pos embeds and rpe tables are resized to other resolutions."""
    state = official_state(E=64, depths=(1, 1, 2), heads=2, F=32, clip=True)
    state['head.weight'] = torch.randn(1000, 64)
    state['fc_norm.weight'] = torch.randn(64)
    state['fc_norm.bias'] = torch.randn(64)
    m = HiViT(dict(embed_dims=64, depths=[1, 1, 2], num_heads=2), img_size=512, rel_pos_bias='per_block',
              layer_scale_init_value=.1, out_type='avg_featmap')
    report = load_pretrained(m, state)
    assert report['missing'] == []
    assert m.absolute_pos_embed.shape == (1, 1024, 64)
    assert m.blocks[4].attn.relative_position_bias_table.shape == (63**2, 2)
    assert torch.equal(m.fc_norm.weight, state['fc_norm.weight'])


def test_parity_with_mmpretrain_itpn_pixel_pretraining():
    """Same weights (mmpretrain keys converted by convert_itpn_official), same random mask: our backbone, pyramid
    and pixel head give mmpretrain's iTPN (the port of the official code) loss to float precision."""
    from mmpretrain.registry import MODELS
    mm_cfg = dict(
        type='iTPN',
        backbone=dict(type='iTPNHiViT', arch=dict(embed_dims=64, depths=[1, 1, 2], num_heads=2), img_size=64,
                      reconstruction_type='pixel', mask_ratio=0.75),
        neck=dict(type='iTPNPretrainDecoder', num_patches=16, embed_dim=64, fpn_dim=32, fpn_depth=2,
                  decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=2),
        head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=16,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2')))
    ours_cfg = dict(
        type='mmconvmae.iTPN', backbone=dict(type='mmconvmae.HiViT', arch=TINY, img_size=64),
        neck=dict(type='mmconvmae.iTPNPyramid', in_channels=64, fpn_dim=32, out_type='units'),
        head=dict(type='mmconvmae.iTPNPixelHead', fpn_dim=32, img_size=64, decoder_embed_dim=64, decoder_depth=1,
                  decoder_num_heads=2))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        theirs, ours = MODELS.build(mm_cfg), MODELS.build(ours_cfg)
    theirs.init_weights()
    # one mmpretrain deviation from the official code, undone here: decoder_embed LayerNorms with eps 1e-5
    # (official: norm_layer, eps 1e-6). Its interpolate_pos_encoding is the official one (with masking it resizes
    # the table even at the training grid), as is our default pos_embed_interp='official'.
    for embed in theirs.neck.decoder_embed:
        embed[0].eps = 1e-6
    state = convert_itpn_official(theirs.state_dict())
    result = ours.load_state_dict(state, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    theirs, ours = theirs.double(), ours.double()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    torch.manual_seed(3)
    ref = theirs.loss(x, None)['loss']
    torch.manual_seed(3)
    got = ours.loss(x, None)['loss']
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)


# ---- behaviour -------------------------------------------------------------------------------------------
def test_masked_units_cannot_leak_into_visible_tokens():
    """Units dropped by ids_keep never influence anything: changing their pixels changes no output; and the
    stem, being unit-local, gives the kept units exactly their features of the full forward."""
    torch.manual_seed(0)
    m, neck = HiViT(TINY, img_size=64).eval(), iTPNPyramid(64, 32, out_type='units').eval()
    x = torch.randn(2, 3, 64, 64)
    ids_keep = torch.tensor([[0, 5, 10, 15], [3, 4, 9, 14]])
    with torch.no_grad():
        (c4, c8, c16), _, hw = m.forward_units(x, ids_keep=ids_keep)
        outs = neck.forward_units(c4, c8, c16)
        y = x.clone()
        for b in range(2):
            for u in set(range(16)) - set(ids_keep[b].tolist()):
                r, c = divmod(u, 4)
                y[b, :, 16 * r:16 * r + 16, 16 * c:16 * c + 16] = torch.randn(3, 16, 16) * 5
        (d4, d8, d16), _, _ = m.forward_units(y, ids_keep=ids_keep)
        outs2 = neck.forward_units(d4, d8, d16)
        (f4, f8, _), _, _ = m.forward_units(x)
    for a, b in zip((c4, c8, c16) + outs, (d4, d8, d16) + outs2):
        assert torch.equal(a, b)
    idx = ids_keep[:, :, None, None, None]
    assert torch.allclose(c4, torch.gather(f4, 1, idx.expand(-1, -1, *f4.shape[2:])), atol=1e-6)
    assert torch.allclose(c8, torch.gather(f8, 1, idx.expand(-1, -1, *f8.shape[2:])), atol=1e-6)
    assert hw == (4, 4)


def test_unit_and_map_layouts_agree():
    """The neck gives the same numbers on NCHW maps (downstream) and on the unit layout (pretraining)."""
    torch.manual_seed(0)
    m, neck = HiViT(TINY, img_size=64).eval(), iTPNPyramid(64, 32, num_outs=5).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        maps = m(x)
        (c4, c8, c16), _, hw = m.forward_units(x)
        assert [tuple(f.shape) for f in maps] == [(1, 16, 16, 24), (1, 32, 8, 12), (1, 64, 4, 6)]
        assert torch.equal(map_to_units(maps[0], 4), c4) and torch.equal(units_to_map(c8, hw), maps[1])
        pyr = neck(maps)
        o16, o8, o4 = neck.forward_units(c4, c8, c16)
    assert [tuple(p.shape) for p in pyr] == [(1, 32, 16, 24), (1, 32, 8, 12), (1, 32, 4, 6), (1, 32, 2, 3),
                                              (1, 32, 1, 1)]
    torch.testing.assert_close(pyr[0], units_to_map(o4, hw))
    torch.testing.assert_close(pyr[2], units_to_map(o16, hw))
    seg = iTPNPyramid(64, 32, out_type='concat').eval()
    seg.load_state_dict(neck.state_dict())
    with torch.no_grad():
        cat = seg(maps)
    assert [p.shape[1] for p in cat] == list(seg.out_channels) == [48, 64, 96, 96]
    torch.testing.assert_close(cat[0][:, :32], pyr[0])


def test_rpe_classification_with_cp_and_frozen_stages():
    torch.manual_seed(0)
    m = HiViT(TINY, img_size=64, rel_pos_bias='per_block', out_type='avg_featmap', drop_path_rate=0.1)
    out = m(torch.randn(2, 3, 64, 64))
    assert len(out) == 1 and out[0].shape == (2, 64)
    ref = HiViT(TINY, img_size=64, rel_pos_bias='per_block', with_cp=True).eval()
    plain = HiViT(TINY, img_size=64, rel_pos_bias='per_block').eval()
    plain.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 48, 64, requires_grad=True)
    torch.testing.assert_close(ref(x)[2], plain(x)[2])
    ref(x)[2].sum().backward()
    assert ref.blocks[0].mlp.fc1.weight.grad is not None
    frozen = HiViT(TINY, img_size=64, frozen_stages=2)
    frozen.train()
    assert not any(p.requires_grad for p in frozen.blocks[:frozen.stage_ends[1]].parameters())
    assert all(p.requires_grad for p in frozen.blocks[frozen.stage_ends[1]:].parameters())


def test_layer_decay_gives_distinct_lrs_per_block():
    """Unlike mmpretrain's HiViT (its get_layer_depth looks for 'layers.'), every block gets its own lr."""
    from mmengine.optim import build_optim_wrapper
    from mmconvmae.engine.optimizers import LayerDecayOptimWrapperConstructor  # noqa: F401

    class Model(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = HiViT(TINY, img_size=64)
            self.neck = iTPNPyramid(64, 32)
            self.head = torch.nn.Linear(32, 3)

    model = Model()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        constructor='mmconvmae.LayerDecayOptimWrapperConstructor', paramwise_cfg=dict(layer_decay_rate=0.9)))
    lr_of = {}
    for g in wrapper.optimizer.param_groups:
        for n in g['param_names']:
            lr_of[n] = g['lr']
    n = len(model.backbone.blocks)
    block_lrs = [lr_of[f'backbone.blocks.{i}.norm2.weight' if f'backbone.blocks.{i}.norm2.weight' in lr_of
                       else f'backbone.blocks.{i}.norm.weight'] for i in range(n)]
    assert len(set(block_lrs)) == n and block_lrs == sorted(block_lrs)
    assert lr_of['backbone.patch_embed.proj.weight'] == pytest.approx(1e-3 * 0.9**(n + 1))
    assert lr_of['neck.fpn_modules.0.mlp.fc1.weight'] == lr_of['head.weight'] == pytest.approx(1e-3)


def test_pixel_head_norm_pix_target():
    head = iTPNPixelHead(fpn_dim=32, img_size=32, decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=2)
    img = torch.arange(2 * 3 * 32 * 32, dtype=torch.float).reshape(2, 3, 32, 32)
    t = head.construct_target(img)
    assert t.shape == (2, 4, 768)
    torch.testing.assert_close(t.mean(-1), torch.zeros(2, 4), atol=1e-4, rtol=0)


# ---- bad inputs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='huge'), 'Unknown HiViT arch'),
    (dict(arch=dict(embed_dims=64, depths=[1, 1], num_heads=2)), r'depths=\[d4, d8, d16\]'),
    (dict(out_type='tokens'), 'out_type'),
    (dict(frozen_stages=4), 'frozen_stages'),
    (dict(img_size=100), 'multiple of patch_size'),
])
def test_backbone_rejects_bad_arguments(kwargs, match):
    kwargs.setdefault('arch', TINY)
    with pytest.raises(ValueError, match=match):
        HiViT(**kwargs)


def test_clear_errors_for_bad_inputs():
    m = HiViT(TINY, img_size=64)
    with pytest.raises(ValueError, match='divisible by the patch size 16'):
        m(torch.randn(1, 3, 40, 64))
    with pytest.raises(ValueError, match='3 input channels'):
        m(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        m(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match='ids_keep must be'):
        m.forward_units(torch.randn(2, 3, 64, 64), ids_keep=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match='mask_token=True'):
        m.forward_units(torch.randn(2, 3, 64, 64), token_mask=torch.zeros(2, 16))
    with pytest.raises(ValueError, match='relative position tables cover at most 4x4'):
        HiViT(TINY, img_size=64, rel_pos_bias='per_block')(torch.randn(1, 3, 64, 96))
    neck = iTPNPyramid(64, 32)
    with pytest.raises(ValueError, match='out_indices=\\(0, 1, 2\\)'):
        neck(m(torch.randn(1, 3, 64, 64))[1:])
    with pytest.raises(ValueError, match='expects 32 channels for C4, got 16'):
        iTPNPyramid(128, 32)(m(torch.randn(1, 3, 64, 64)))
    with pytest.raises(ValueError, match='out_type'):
        iTPNPyramid(64, out_type='fpn')
    with pytest.raises(ValueError, match='Shape mismatch'):
        load_pretrained(HiViT(TINY, img_size=64), official_state(E=128, depths=(2, 2, 2), heads=2, F=32))


def test_convert_tool_splits_official_files_into_backbone_neck_head(tmp_path):
    """tools/convert/itpn.py on an official-layout file (wrapped in 'model', with the pickled-args entry of real
    releases): backbone.* / neck.* / head.* that load into HiViT / iTPNPyramid with the matching prefixes."""
    import argparse

    from helpers import run_tool
    state = official_state(E=64, depths=(2, 2, 2), heads=2, F=32)
    src, dst = tmp_path / 'itpn_tiny_pixel.pth', tmp_path / 'converted.pth'
    torch.save({'model': state, 'epoch': 3, 'args': argparse.Namespace(model='itpn_tiny')}, src)
    out = run_tool('convert/itpn.py', src, dst).stdout
    assert 'backbone' in out and 'neck' in out
    converted = torch.load(dst, map_location='cpu', weights_only=False)['state_dict']
    assert 'head.decoder_pred.weight' in converted and 'head.mask_token' in converted
    backbone, neck = HiViT(TINY, img_size=224), iTPNPyramid(64, 32)
    for module, prefix in ((backbone, 'backbone.'), (neck, 'neck.')):
        report = load_pretrained(module, str(dst), prefix=prefix)
        assert report['missing'] == [] and report['unexpected'] == []
    assert torch.equal(neck.split_8to4.reduction.weight, state['split_8to4.reduction.weight'])


def test_pretraining_algorithm_rejects_bad_setups():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    base = dict(type='mmconvmae.iTPN', backbone=dict(type='mmconvmae.HiViT', arch=TINY, img_size=64),
                neck=dict(type='mmconvmae.iTPNPyramid', in_channels=64, fpn_dim=32, out_type='units'),
                head=dict(type='mmconvmae.iTPNPixelHead', fpn_dim=32, img_size=64, decoder_embed_dim=64,
                          decoder_depth=1, decoder_num_heads=2))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(ValueError, match="target must be 'pixel' or 'clip'"):
            MODELS.build(dict(base, target='feature'))
        with pytest.raises(ValueError, match='needs a target_generator'):
            MODELS.build(dict(base, target='clip'))
        with pytest.raises(ValueError, match='leaves no visible unit'):
            MODELS.build(dict(base, mask_ratio=0.99)).loss(torch.randn(1, 3, 64, 64))
        clip = MODELS.build(dict(
            base, target='clip', backbone=dict(base['backbone'], mask_token=True),
            head=dict(type='mmconvmae.iTPNCLIPHead', embed_dims=64, fpn_dim=32, teacher_dim=16, num_heads=2,
                      rpe_size=None),
            target_generator=dict(type='mmconvmae.CLIPTeacher', width=32, layers=1, heads=2, output_dim=24,
                                  input_resolution=64)))
    x = torch.randn(2, 3, 64, 64)
    samples = [DataSample(mask=torch.zeros(4, 4, dtype=torch.bool)) for _ in range(2)]
    with pytest.raises(ValueError, match='TwoNormDataPreprocessor'):
        clip.loss(x, samples)
    with pytest.raises(ValueError, match='BEiTMaskGenerator'):
        clip.loss([x, x], [DataSample() for _ in range(2)])
    with pytest.raises(ValueError, match='teacher_dim must match'):
        clip.loss([x, x], samples)


def test_parity_with_mmpretrain_clip_backbone_rpe_layer_scale_mask_token():
    """CLIP-target path: relative position bias, layer scale and mask-token replacement give mmpretrain's
    iTPNHiViT outputs (C4, C8, C16) for the same weights and mask."""
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        theirs = MODELS.build(dict(type='iTPNHiViT', arch=dict(embed_dims=64, depths=[1, 1, 2], num_heads=2),
                                   img_size=64, rpe=True, layer_scale_init_value=0.1, reconstruction_type='clip'))
    theirs.init_weights()
    for blk in theirs.blocks[-2:]:  # non-trivial tables and layer scales
        torch.nn.init.normal_(blk.attn.relative_position_bias_table, std=1.0)
        torch.nn.init.normal_(blk.gamma_1, std=1.0)
    torch.nn.init.normal_(theirs.mask_token, std=1.0)
    ours = HiViT(TINY, img_size=64, rel_pos_bias='per_block', layer_scale_init_value=0.1, mask_token=True)
    state = convert_itpn_official({'backbone.' + k: v for k, v in theirs.state_dict().items()})
    result = ours.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()}, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    x, mask = torch.randn(2, 3, 64, 64), torch.rand(2, 4, 4) > 0.5
    ref = theirs(x, mask)
    got, _, _ = ours.forward_units(x, token_mask=mask.flatten(1))
    for r, g in zip(ref, got):
        torch.testing.assert_close(g.reshape(r.shape), r, rtol=1e-4, atol=1e-5)


def test_itpn_base_shapes_full_and_masked():
    """iTPN-B at 224: C4/C8/C16 = 128/256/512 ch at strides 4/8/16; with the pretraining mask (49 of 196 units
    kept) the pyramid runs on the 49 visible units only."""
    torch.manual_seed(0)
    m, neck = HiViT('base').eval(), iTPNPyramid(512, out_type='units').eval()
    x = torch.randn(1, 3, 224, 224)
    ids_keep = torch.randperm(196)[:49].sort().values[None]
    with torch.no_grad():
        assert [tuple(f.shape) for f in m(x)] == [(1, 128, 56, 56), (1, 256, 28, 28), (1, 512, 14, 14)]
        feats, _, hw = m.forward_units(x, ids_keep=ids_keep)
        outs = neck.forward_units(*feats)
    assert hw == (14, 14)
    assert [tuple(o.shape) for o in outs] == [(1, 49, 1, 1, 256), (1, 49, 2, 2, 256), (1, 49, 4, 4, 256)]


def test_layer_scale_mismatch_is_an_error_and_dropped_pretrained_parts_are_reported(monkeypatch):
    """Official issue #17 (CLIP checkpoint, model without layer scale: gammas silently dropped) fails loudly;
    pretrained rpe tables / extra pyramid blocks that the model does not use are reported."""
    import mmconvmae.models.backbones.hivit as hivit_module
    import mmconvmae.models.necks.itpn_pyramid as neck_module
    clip_state = official_state(E=64, depths=(2, 2, 2), heads=2, F=32, fpn_depth=2, clip=True)
    with pytest.raises(ValueError, match='layer_scale_init_value=0.1'):
        load_pretrained(HiViT(TINY, img_size=224, rel_pos_bias='per_block'), clip_state)
    pixel_state = official_state(E=64, depths=(2, 2, 2), heads=2, F=32, fpn_depth=2)
    with pytest.raises(ValueError, match='layer_scale_init_value=0$'):
        load_pretrained(HiViT(TINY, img_size=224, layer_scale_init_value=0.1), pixel_state)
    messages = []
    for module in (hivit_module, neck_module):
        monkeypatch.setattr(module, 'print_log', lambda msg, **kw: messages.append(msg))
    load_pretrained(HiViT(TINY, img_size=224, layer_scale_init_value=0.1, mask_token=True), clip_state)
    load_pretrained(iTPNPyramid(64, 32, fpn_depth=1), pixel_state)
    text = '\n'.join(messages)
    assert 'ignoring the 2 relative position tables' in text
    assert 'block_16to8/block_8to4.1 are not used' in text
