"""ConvMAE pretraining: official keys and sizes, parity with the official forward_encoder / decoder / loss
(functional re-implementation), masking leak test, loss on masked patches only, other input sizes, errors, and the
end-to-end demo with the hand-off to the detection / segmentation demo backbones."""
import json
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from helpers import ROOT, run_tool, short_run_options
from mmconvmae.models import ConvMAE, ConvMAEPretrain
from mmconvmae.models.convert.convmae import convert_convmae_pretrain_official
from mmconvmae.models.utils import random_masking
from test_convmae import TINY, _block, _ln, official_encoder_state

DEMO = ROOT / 'configs/demo'
SMALL_DECODER = dict(embed_dim=48, depth=2, num_heads=4)


def tiny_model(**kwargs):
    torch.manual_seed(0)
    return ConvMAEPretrain(backbone=dict(arch=TINY, img_size=224), neck=SMALL_DECODER, **kwargs)


def official_pretrain_keys(arch='base', dec=512, depth=8):
    keys = dict((k, tuple(v.shape)) for k, v in official_encoder_state(ConvMAE.arch_zoo[arch]).items())
    d1, d2, d3 = ConvMAE.arch_zoo[arch]['embed_dims']
    keys.update({'stage1_output_decode.weight': (d3, d1, 4, 4), 'stage1_output_decode.bias': (d3, ),
                 'stage2_output_decode.weight': (d3, d2, 2, 2), 'stage2_output_decode.bias': (d3, ),
                 'mask_token': (1, 1, dec), 'decoder_embed.weight': (dec, d3), 'decoder_embed.bias': (dec, ),
                 'decoder_pos_embed': (1, 196, dec), 'decoder_norm.weight': (dec, ), 'decoder_norm.bias': (dec, ),
                 'decoder_pred.weight': (768, dec), 'decoder_pred.bias': (768, )})
    for b in range(depth):
        p = f'decoder_blocks.{b}.'
        for n, shape in [('norm1', (dec, )), ('norm2', (dec, )), ('attn.proj', (dec, dec)),
                         ('attn.qkv', (3 * dec, dec)), ('mlp.fc1', (4 * dec, dec)), ('mlp.fc2', (dec, 4 * dec))]:
            keys[p + n + '.weight'] = shape
            keys[p + n + '.bias'] = (shape[0], ) if len(shape) == 2 else shape
    return keys


def test_size_and_keys_match_the_official_pretraining_model():
    with torch.device('meta'):
        model = ConvMAEPretrain()
    assert abs(sum(p.numel() for p in model.parameters()) / 1e6 - 115.0) < 0.05  # docs/convmae.md#arches
    ours = {k.split('.', 1)[1]: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(ours) == 313 and ours == official_pretrain_keys()  # 313 keys, docs/convmae.md#what-is-official
    official = {k: torch.zeros(1) for k in official_pretrain_keys()}
    assert set(convert_convmae_pretrain_official(official)) == set(model.state_dict())


# ---- parity with the official forward (official models_convmae.py) ------------------------------------------------
def official_forward_loss(sd, imgs, mask, depths, heads, dec_heads):
    """``forward_encoder`` (masked conv, gather ids_keep, blocks3, + stage embeds, norm), ``forward_decoder`` and
    ``forward_loss`` with norm_pix_loss, for a given mask (N, 196)."""
    n = imgs.shape[0]
    ids_keep = (mask == 0).nonzero()[:, 1].view(n, -1)
    m14 = mask.reshape(-1, 14, 14)
    vis1 = 1 - m14.unsqueeze(-1).repeat(1, 1, 1, 16).reshape(-1, 14, 14, 4, 4).permute(0, 1, 3, 2, 4).reshape(
        n, 56, 56).unsqueeze(1)
    vis2 = 1 - m14.unsqueeze(-1).repeat(1, 1, 1, 4).reshape(-1, 14, 14, 2, 2).permute(0, 1, 3, 2, 4).reshape(
        n, 28, 28).unsqueeze(1)
    # the conv stages, with the mask multiplied after conv1
    x, embeds = imgs, []
    for s, vis in ((1, vis1), (2, vis2)):
        w = sd[f'patch_embed{s}.proj.weight']
        x = F.conv2d(x, w, sd[f'patch_embed{s}.proj.bias'], stride=w.shape[-1])
        x = F.gelu(_ln(x.permute(0, 2, 3, 1), sd, f'patch_embed{s}.norm', 1e-5).permute(0, 3, 1, 2))
        for b in range(depths[s - 1]):
            p = f'blocks{s}.{b}.'
            y = _ln(x.permute(0, 2, 3, 1), sd, p + 'norm1', 1e-5).permute(0, 3, 1, 2)
            y = vis * F.conv2d(y, sd[p + 'conv1.weight'], sd[p + 'conv1.bias'])
            y = F.conv2d(y, sd[p + 'attn.weight'], sd[p + 'attn.bias'], padding=2, groups=y.shape[1])
            x = x + F.conv2d(y, sd[p + 'conv2.weight'], sd[p + 'conv2.bias'])
            y = _ln(x.permute(0, 2, 3, 1), sd, p + 'norm2', 1e-5).permute(0, 3, 1, 2)
            y = F.gelu(F.conv2d(y, sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias']))
            y = F.conv2d(y, sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
            x = x + y
        k = 4 if s == 1 else 2
        embeds.append(F.conv2d(x, sd[f'stage{s}_output_decode.weight'], sd[f'stage{s}_output_decode.bias'],
                               stride=k).flatten(2).permute(0, 2, 1))
    x = F.conv2d(x, sd['patch_embed3.proj.weight'], sd['patch_embed3.proj.bias'], stride=2)
    x = F.gelu(_ln(x.permute(0, 2, 3, 1), sd, 'patch_embed3.norm', 1e-5)).flatten(1, 2)
    x = F.linear(x, sd['patch_embed4.weight'], sd['patch_embed4.bias']) + sd['pos_embed']

    def gather(t):
        return torch.gather(t, 1, ids_keep.unsqueeze(-1).repeat(1, 1, t.shape[-1]))

    x = gather(x)
    for b in range(depths[2]):
        x = _block(sd, f'blocks3.{b}.', x, heads)
    x = _ln(x + gather(embeds[0]) + gather(embeds[1]), sd, 'norm', 1e-6)
    # decoder: append mask tokens, unshuffle, + pos, blocks, norm, pred
    x = F.linear(x, sd['decoder_embed.weight'], sd['decoder_embed.bias'])
    ids_shuffle = torch.cat([ids_keep, (mask == 1).nonzero()[:, 1].view(n, -1)], 1)
    ids_restore = ids_shuffle.argsort(1)
    x = torch.cat([x, sd['mask_token'].repeat(n, ids_restore.shape[1] - x.shape[1], 1)], 1)
    x = torch.gather(x, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2])) + sd['decoder_pos_embed']
    for b in range(len({k.split('.')[1] for k in sd if k.startswith('decoder_blocks.')})):
        x = _block(sd, f'decoder_blocks.{b}.', x, dec_heads)
    pred = F.linear(_ln(x, sd, 'decoder_norm', 1e-6), sd['decoder_pred.weight'], sd['decoder_pred.bias'])
    target = imgs.reshape(n, 3, 14, 16, 14, 16)
    target = torch.einsum('nchpwq->nhwpqc', target).reshape(n, 196, 768)
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6)**.5
    loss = ((pred - target)**2).mean(-1)
    return (loss * mask).sum() / mask.sum()


@torch.no_grad()
def test_loss_matches_the_official_forward():
    model = tiny_model().eval()
    g = torch.Generator().manual_seed(3)
    state = {k: v + torch.randn(v.shape, generator=g) * 0.05 if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    sd = {k.split('.', 1)[1]: v for k, v in state.items()}
    imgs = torch.randn(2, 3, 224, 224)
    mask = random_masking(2, 196, 0.75, generator=g)[0]
    ours = model.loss(imgs, mask=mask)['loss']
    ref = official_forward_loss(sd, imgs, mask, TINY['depths'], 4, 4)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


# ---- masking ---------------------------------------------------------------------------------------------------
def block_pixels(mask, grid_w, p=16):
    """(N, L) token mask -> (N, 1, H, W) pixel mask."""
    n = mask.shape[0]
    m = mask.view(n, 1, -1, grid_w)
    return m.repeat_interleave(p, 2).repeat_interleave(p, 3)


@torch.no_grad()
def test_masked_pixels_cannot_reach_visible_tokens():
    """Changing every pixel inside the masked 16x16 blocks leaves every visible-token feature of the pretraining
    encoder bit-identical; changing visible pixels does change them; and dropping the masked convolution in
    stages 1-2 (same gathering) would leak."""
    model = tiny_model().eval()
    encoder = model.backbone
    x = torch.randn(2, 3, 160, 224)  # a 10 x 14 grid
    mask = random_masking(2, 140, 0.75, generator=torch.Generator().manual_seed(0))[0]
    pix = block_pixels(mask, 14)
    noise = torch.randn_like(x) * 10
    base = encoder(x, mask)
    assert base.shape == (2, 35, 32)
    assert torch.equal(encoder(x + noise * pix, mask), base)
    assert not torch.allclose(encoder(x + noise * (1 - pix), mask), base)

    def unmasked_conv_tokens(images):  # the same encoder without the mask in stages 1-2
        s1, s2, t = encoder.embed(images)
        keep = (mask == 0).nonzero()[:, 1].view(2, -1)
        return torch.gather(t.flatten(1, 2), 1, keep[..., None].expand(-1, -1, t.shape[-1]))

    assert not torch.allclose(unmasked_conv_tokens(x + noise * pix), unmasked_conv_tokens(x))


def test_mask_is_blockwise_on_the_16_grid_and_upsampled():
    mask = random_masking(3, 196, 0.75)[0]
    assert mask.shape == (3, 196) and (mask.sum(1) == 196 - 49).all()
    model = tiny_model()
    seen = []
    model.backbone.blocks1[0].register_forward_pre_hook(lambda m, a: seen.append(a[1]))
    model.backbone.blocks2[0].register_forward_pre_hook(lambda m, a: seen.append(a[1]))
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        model.backbone(x, mask)
    v1, v2 = seen
    assert v1.shape == (3, 1, 56, 56) and v2.shape == (3, 1, 28, 28)
    grid = 1 - mask.view(3, 1, 14, 14)
    assert torch.equal(v1, grid.repeat_interleave(4, 2).repeat_interleave(4, 3))
    assert torch.equal(v2, grid.repeat_interleave(2, 2).repeat_interleave(2, 3))


def test_loss_is_computed_on_masked_patches_only():
    model = tiny_model()
    imgs = torch.randn(2, 3, 64, 96)
    mask = random_masking(2, 24, 0.75, generator=torch.Generator().manual_seed(1))[0]
    with torch.no_grad():
        pred, m = model.reconstruct(imgs, mask)
    loss = model.head.loss(pred, imgs, m)
    visible = (m == 0)[..., None]
    assert torch.equal(model.head.loss(pred + 5 * visible, imgs, m), loss)
    assert not torch.equal(model.head.loss(pred + 5 * ~visible, imgs, m), loss)
    target = model.head.construct_target(imgs)
    per_patch = ((pred - target)**2).mean(-1)
    torch.testing.assert_close(loss, per_patch[m == 1].mean())


def test_other_input_sizes_train():
    model = tiny_model()
    imgs = torch.randn(2, 3, 96, 160)
    losses = model.loss(imgs)
    losses['loss'].backward()
    assert math.isfinite(losses['loss'].item())
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad)
    pred, mask = model.reconstruct(imgs)
    assert pred.shape == (2, 60, 768) and mask.shape == (2, 60) and int(mask[0].sum()) == 60 - 15


def test_bad_inputs_raise_clear_errors():
    model = tiny_model()
    with pytest.raises(ValueError, match=r'divisible by the 16-pixel mask unit.*100x96'):
        model.loss(torch.randn(1, 3, 100, 96))
    with pytest.raises(ValueError, match='mask must have one value per 16x16 pixels'):
        model.backbone(torch.randn(1, 3, 64, 64), torch.zeros(1, 15))
    with pytest.raises(ValueError, match='same, non-zero number of visible tokens'):
        model.backbone(torch.randn(2, 3, 32, 32), torch.tensor([[0., 1, 1, 1], [0, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r'mask_ratio must be in \[0, 1\)'):
        tiny_model(mask_ratio=1.0)
    with pytest.raises(ValueError, match='leaves no visible token'):
        tiny_model(mask_ratio=0.9).loss(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='expects images'):
        model.loss(torch.randn(3, 64, 64))


# ---- end to end + hand-off ------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def pretrained(tmp_path_factory, synthetic_data):
    """Runs 3 iterations of the ConvMAE pretraining demo; returns (checkpoint path, per-iteration losses)."""
    work_dir = tmp_path_factory.mktemp('convmae_pretrain_demo')
    run_tool('train.py', DEMO / 'convmae_pretrain_demo.py', '--work-dir', work_dir, '--cfg-options',
             *short_run_options(3), data_root=synthetic_data)
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert logs, f'no scalars log under {work_dir}'
    losses = [json.loads(line)['loss'] for line in logs[-1].read_text().splitlines() if '"loss"' in line]
    return work_dir / 'iter_3.pth', losses


def test_pretraining_demo_trains(pretrained):
    ckpt, losses = pretrained
    assert len(losses) == 3 and all(math.isfinite(v) and 0 < v < 10 for v in losses), losses
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert 'neck.mask_token' in state and 'backbone.stage1_output_decode.weight' in state


@pytest.mark.parametrize('config, scope, new_keys', [
    ('mask_rcnn_convmae_demo.py', 'mmdet', r'^(windowed|global)_rel_pos_bias\.'),
    ('upernet_convmae_demo.py', 'mmseg', r'^(blocks3\.\d+\.(attn\.relative_position_bias_table|gamma_[12])|fpn\.)'),
])
def test_demo_checkpoint_initialises_det_and_seg_backbones(pretrained, config, scope, new_keys):
    """Every encoder weight of the pretraining run reaches the downstream backbone (pos_embed interpolated 8x8 ->
    16x16 for the detection demo); only the parameters the downstream layouts add (official: created new) are
    missing, and nothing is unexpected."""
    import re

    from mmengine.registry import DefaultScope
    ckpt, _ = pretrained
    cfg = Config.fromfile(DEMO / config)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
        model.init_weights()
    report = model.backbone.pretrained_report
    assert report['unexpected'] == []
    assert report['missing'] and all(re.match(new_keys, k) for k in report['missing']), report['missing']
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    encoder = {k[len('backbone.'):] for k in state if k.startswith('backbone.')}
    encoder -= {'norm.weight', 'norm.bias', 'stage1_output_decode.weight', 'stage1_output_decode.bias',
                'stage2_output_decode.weight', 'stage2_output_decode.bias'}
    assert set(report['loaded']) == encoder
    own = model.backbone.state_dict()
    for name in encoder - {'pos_embed'}:
        assert torch.equal(own[name], state['backbone.' + name]), name
    assert own['pos_embed'].shape[1] == (cfg.model.backbone.img_size // 16)**2


def test_pretraining_config_follows_the_official_recipe():
    cfg = Config.fromfile(ROOT / 'configs/pretrain/convmae_base_1600e_in1k.py')
    assert cfg.model.mask_ratio == 0.75 and cfg.model.neck.embed_dim == 512 and cfg.model.neck.depth == 8
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.5e-4 * 3072 / 256)
    assert cfg.optim_wrapper.optimizer.betas == (0.9, 0.95) and cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.train_dataloader.batch_size * 24 == 3072 and cfg.train_cfg.max_epochs == 1600
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 40), (40, 1600)]
    crop = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomResizedCrop'][0]
    assert crop.scale == 224 and crop.crop_ratio_range == (0.2, 1.0) and crop.interpolation == 'bicubic'
