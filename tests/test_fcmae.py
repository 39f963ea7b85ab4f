"""FCMAE: the masked encoder against an independent sparse (MinkowskiEngine-semantics) reference, leaks, GRN
statistics, the loss, official checkpoints, hand-off to detection/segmentation backbones and bad inputs."""
import pytest
import torch
import torch.nn.functional as F

from mmconvmae.models import ConvNeXtV2
from mmconvmae.models.convert.convnext_v2 import convert_fcmae_official
from mmconvmae.models.selfsup.fcmae import FCMAE, FCMAEConvNeXtV2, FCMAEDecoder, VisibleLayout
from mmconvmae.models.utils import GRN, load_pretrained, random_masking


def gen_random_mask(batch_size, num_cells, mask_ratio):
    """FCMAE's official mask (normal noise): (N, L) float, 1 = masked."""
    return random_masking(batch_size, num_cells, mask_ratio, 'normal')[0]

ARCH = dict(depths=[1, 1, 2, 1], dims=[8, 16, 24, 32])


# ---- an independent reference: the official sparse encoder (models/convnextv2_sparse.py) -----------------------
def minkowski_state_dict(arch=ARCH, decoder_dim=512, patch=32, seed=0):
    """Random weights under the key names and shapes of an official FCMAE training checkpoint
    (docs/convnext_v2.md#fcmae-training-checkpoints-minkowskiengine):
    Minkowski encoder (``kernel`` (k*k, in, out) / (k*k, C), ``.ln``, ``.linear``, (1, C) biases and GRN) and
    the dense decoder. LN/GRN affine parameters are random too, so they matter in every comparison."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=.2, mean=0.):
        return mean + scale * torch.randn(*shape, generator=g)

    d, sd = arch['dims'], {}
    sd['encoder.downsample_layers.0.0.weight'] = r(d[0], 3, 4, 4)
    sd['encoder.downsample_layers.0.0.bias'] = r(d[0])
    sd['encoder.downsample_layers.0.1.weight'] = r(d[0], mean=1.)
    sd['encoder.downsample_layers.0.1.bias'] = r(d[0])
    for i in range(1, 4):
        p = f'encoder.downsample_layers.{i}'
        sd[f'{p}.0.ln.weight'], sd[f'{p}.0.ln.bias'] = r(d[i - 1], mean=1.), r(d[i - 1])
        sd[f'{p}.1.kernel'], sd[f'{p}.1.bias'] = r(4, d[i - 1], d[i]), r(1, d[i])
    for s, (depth, c) in enumerate(zip(arch['depths'], d)):
        for b in range(depth):
            p = f'encoder.stages.{s}.{b}'
            sd[f'{p}.dwconv.kernel'], sd[f'{p}.dwconv.bias'] = r(49, c), r(1, c)
            sd[f'{p}.norm.ln.weight'], sd[f'{p}.norm.ln.bias'] = r(c, mean=1.), r(c)
            sd[f'{p}.pwconv1.linear.weight'], sd[f'{p}.pwconv1.linear.bias'] = r(4 * c, c), r(4 * c)
            sd[f'{p}.grn.gamma'], sd[f'{p}.grn.beta'] = r(1, 4 * c, scale=.5), r(1, 4 * c)
            sd[f'{p}.pwconv2.linear.weight'], sd[f'{p}.pwconv2.linear.bias'] = r(c, 4 * c), r(c)
    e = decoder_dim
    sd['proj.weight'], sd['proj.bias'] = r(e, d[3], 1, 1), r(e)
    sd['mask_token'] = r(1, e, 1, 1)
    sd['decoder.0.dwconv.weight'], sd['decoder.0.dwconv.bias'] = r(e, 1, 7, 7), r(e)
    sd['decoder.0.norm.weight'], sd['decoder.0.norm.bias'] = r(e, mean=1.), r(e)
    sd['decoder.0.pwconv1.weight'], sd['decoder.0.pwconv1.bias'] = r(4 * e, e, scale=.05), r(4 * e)
    sd['decoder.0.grn.gamma'], sd['decoder.0.grn.beta'] = r(1, 1, 1, 4 * e), r(1, 1, 1, 4 * e)
    sd['decoder.0.pwconv2.weight'], sd['decoder.0.pwconv2.bias'] = r(e, 4 * e, scale=.05), r(e)
    sd['pred.weight'], sd['pred.bias'] = r(patch * patch * 3, e, 1, 1), r(patch * patch * 3)
    return sd


def ln(x, w, b):
    return F.layer_norm(x, x.shape[-1:], w, b, 1e-6)


def grn(x, gamma, beta):  # official GRN over the rows of x (P, C)
    gx = x.norm(p=2, dim=0, keepdim=True)
    return gamma.reshape(1, -1) * (x * (gx / (gx.mean(dim=-1, keepdim=True) + 1e-6))) + beta.reshape(1, -1) + x


def sparse_conv(feats, coords, size, kernel, ks, stride):
    """Minkowski convolution of the points ``coords`` (P, 2) (row, col) of one sample, features (P, C_in).
    ``kernel`` (ks*ks, C_in, C_out) (depthwise: (ks*ks, C)); kernel index = col_offset * ks + row_offset (the
    first coordinate runs fastest; docs/convnext_v2.md#sparse-to-dense-conversion). Odd kernels are centred, the
    2x2/2 kernel covers offsets 0..1.
    Outputs exist at the input points (stride 1) or at the strided points (stride 2); missing inputs are 0."""
    h, w = size
    table = torch.full((h + 6, w + 6), len(feats), dtype=torch.long)
    table[coords[:, 0] + 3, coords[:, 1] + 3] = torch.arange(len(feats))
    padded = torch.cat([feats, feats.new_zeros(1, feats.shape[1])])
    out_coords = coords if stride == 1 else torch.unique(coords // stride, dim=0)
    start = -(ks // 2) if ks % 2 else 0
    out = 0
    for col in range(ks):
        for row in range(ks):
            k = col * ks + row
            src = out_coords * stride + torch.tensor([start + row, start + col])
            vals = padded[table[src[:, 0] + 3, src[:, 1] + 3]]
            out = out + (vals * kernel[k] if kernel.dim() == 2 else vals @ kernel[k])
    return out, out_coords


def reference_encoder(sd, arch, x, mask, grn_stats='sample'):
    """The official sparse encoder (``SparseConvNeXtV2.forward``), per sample on coordinate lists: dense stem,
    mask, to_sparse
    (points with a non-zero feature), Minkowski LN/conv/GRN per stage, then x.dense(). mask: (N, L), 1=masked."""
    n, _, h, w = x.shape
    e = {k[len('encoder.'):]: v for k, v in sd.items() if k.startswith('encoder.')}
    y = F.conv2d(x, e['downsample_layers.0.0.weight'], e['downsample_layers.0.0.bias'], stride=4)
    y = ln(y.permute(0, 2, 3, 1), e['downsample_layers.0.1.weight'], e['downsample_layers.0.1.bias'])
    cells = mask.reshape(n, h // 32, w // 32)
    y = y * (1 - cells.repeat_interleave(8, 1).repeat_interleave(8, 2))[..., None]
    coords = [(y[i].abs().sum(-1) != 0).nonzero() for i in range(n)]
    feats = [y[i][c[:, 0], c[:, 1]] for i, c in enumerate(coords)]
    size = (h // 4, w // 4)
    for s, depth in enumerate(arch['depths']):
        if s > 0:
            p = f'downsample_layers.{s}'
            feats = [ln(f, e[f'{p}.0.ln.weight'], e[f'{p}.0.ln.bias']) for f in feats]
            res = [sparse_conv(f, c, size, e[f'{p}.1.kernel'], 2, 2) for f, c in zip(feats, coords)]
            feats = [f + e[f'{p}.1.bias'] for f, _ in res]
            coords = [c for _, c in res]
            size = (size[0] // 2, size[1] // 2)
        for b in range(depth):
            p = f'stages.{s}.{b}'
            ys = [sparse_conv(f, c, size, e[f'{p}.dwconv.kernel'], 7, 1)[0] + e[f'{p}.dwconv.bias']
                  for f, c in zip(feats, coords)]
            ys = [F.gelu(ln(t, e[f'{p}.norm.ln.weight'], e[f'{p}.norm.ln.bias']) @ e[f'{p}.pwconv1.linear.weight'].T
                         + e[f'{p}.pwconv1.linear.bias']) for t in ys]
            if grn_stats == 'sample':
                ys = [grn(t, e[f'{p}.grn.gamma'], e[f'{p}.grn.beta']) for t in ys]
            else:  # MinkowskiGRN: statistics over all points of the batch
                flat = grn(torch.cat(ys), e[f'{p}.grn.gamma'], e[f'{p}.grn.beta'])
                ys = list(flat.split([len(t) for t in ys]))
            ys = [t @ e[f'{p}.pwconv2.linear.weight'].T + e[f'{p}.pwconv2.linear.bias'] for t in ys]
            feats = [f + t for f, t in zip(feats, ys)]
    out = x.new_zeros(n, feats[0].shape[1], *size)
    for i, (f, c) in enumerate(zip(feats, coords)):
        out[i, :, c[:, 0], c[:, 1]] = f.T
    return out


def reference_loss(sd, latent, imgs, mask, p=32):
    """Official forward_decoder + forward_loss (models/fcmae.py) with norm_pix_loss."""
    n, _, h, w = latent.shape
    x = F.conv2d(latent, sd['proj.weight'], sd['proj.bias'])
    m = mask.reshape(n, 1, h, w)
    x = x * (1 - m) + sd['mask_token'] * m
    short = x
    y = F.conv2d(x, sd['decoder.0.dwconv.weight'], sd['decoder.0.dwconv.bias'], padding=3, groups=x.shape[1])
    y = F.gelu(ln(y.permute(0, 2, 3, 1), sd['decoder.0.norm.weight'], sd['decoder.0.norm.bias'])
               @ sd['decoder.0.pwconv1.weight'].T + sd['decoder.0.pwconv1.bias'])
    gx = torch.norm(y, p=2, dim=(1, 2), keepdim=True)
    y = sd['decoder.0.grn.gamma'] * (y * (gx / (gx.mean(dim=-1, keepdim=True) + 1e-6))) + sd['decoder.0.grn.beta'] + y
    y = y @ sd['decoder.0.pwconv2.weight'].T + sd['decoder.0.pwconv2.bias']
    x = short + y.permute(0, 3, 1, 2)
    pred = F.conv2d(x, sd['pred.weight'], sd['pred.bias'])
    pred = torch.einsum('ncl->nlc', pred.reshape(n, pred.shape[1], -1))
    t = imgs.reshape(n, 3, h, p, w, p)
    target = torch.einsum('nchpwq->nhwpqc', t).reshape(n, h * w, p * p * 3)
    mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
    target = (target - mean) / (var + 1.e-6)**.5
    loss = ((pred - target)**2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum(), pred


def encoder_weights(seed=0):
    """The encoder part of :func:`minkowski_state_dict`, converted to our (backbone) names."""
    return {k[len('backbone.'):]: v for k, v in convert_fcmae_official(minkowski_state_dict(seed=seed)).items()
            if k.startswith('backbone.')}


def official_model(arch=ARCH, grn_stats='sample', seed=0):
    sd = minkowski_state_dict(arch, seed=seed)
    model = FCMAE(backbone=dict(arch=arch, grn_stats=grn_stats), neck=dict(embed_dim=512))
    model.load_state_dict(convert_fcmae_official(sd), strict=True)
    return model.eval(), sd


# ---- parity ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('grn_stats', ['sample', 'batch'])
@torch.no_grad()
def test_masked_encoder_matches_sparse_reference(grn_stats):
    model, sd = official_model(grn_stats=grn_stats)
    torch.manual_seed(0)
    x = torch.randn(3, 3, 96, 128)  # 3 x 4 cells, not square: the encoder takes any multiple of 32
    mask = gen_random_mask(3, 12, 0.6)
    assert (mask.sum(1) == 12 - int(12 * 0.4)).all()
    out = model.backbone(x, mask)
    ref = reference_encoder(sd, ARCH, x, mask, grn_stats)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # masked cells are exactly zero, as in x.dense()
    assert (out * mask.view(3, 1, 3, 4) == 0).all()


@torch.no_grad()
def test_fcmae_loss_matches_official_decoder_and_loss():
    model, sd = official_model()
    torch.manual_seed(1)
    x = torch.randn(2, 3, 128, 128)
    mask = gen_random_mask(2, 16, 0.6)
    loss = model.loss(x, mask=mask)['loss']
    ref_latent = reference_encoder(sd, ARCH, x, mask)
    ref_loss, ref_pred = reference_loss(sd, ref_latent, x, mask)
    pred, _ = model.reconstruct(x, mask)
    torch.testing.assert_close(pred, ref_pred, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(loss, ref_loss, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_unequal_visible_counts_use_dense_masked_path_with_same_semantics():
    model, sd = official_model()
    x = torch.randn(2, 3, 64, 96)
    mask = torch.tensor([[1., 0, 1, 1, 0, 1], [0, 0, 1, 0, 1, 1]])  # 2 and 3 visible cells
    torch.testing.assert_close(model.backbone(x, mask), reference_encoder(sd, ARCH, x, mask), atol=1e-5,
                               rtol=1e-5)
    with pytest.raises(ValueError, match=r"grn_stats='batch' needs the same number of visible cells.*\[2, 3\]"):
        FCMAEConvNeXtV2(ARCH, grn_stats='batch')(x, mask)


@pytest.mark.parametrize('window_min_side', [1, 2, 8, 99])
def test_sparse_path_equals_dense_masked_path_with_gradients_and_drop_path(window_min_side):
    """Same outputs and parameter gradients as the dense masked computation, with per-sample drop path active
    (same random draws) and with every choice of where the depthwise conv runs per cell."""
    torch.manual_seed(0)
    enc = FCMAEConvNeXtV2(ARCH, drop_path_rate=0.5).train()
    enc.load_state_dict(encoder_weights())
    enc.window_min_side = window_min_side
    x = torch.randn(4, 3, 96, 96)
    mask = gen_random_mask(4, 9, 0.6)
    grads = []
    for path in ('sparse', 'dense'):
        enc.zero_grad()
        torch.manual_seed(123)
        out = enc(x, mask) if path == 'sparse' else enc._forward_dense_masked(x, mask.view(4, 3, 3).bool())
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads.append((out.detach(), {n: p.grad.clone() for n, p in enc.named_parameters()}))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-5, rtol=1e-5)
    for name, g in grads[1][1].items():
        torch.testing.assert_close(grads[0][1][name], g, atol=1e-4, rtol=1e-4, msg=name)


def test_with_cp_same_result():
    torch.manual_seed(0)
    enc = FCMAEConvNeXtV2(ARCH, with_cp=True)
    ref = FCMAEConvNeXtV2(ARCH)
    ref.load_state_dict(enc.state_dict())
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    mask = gen_random_mask(2, 4, 0.5)
    out = enc(x, mask)
    torch.testing.assert_close(out, ref(x, mask))
    out.sum().backward()
    assert enc.stages[0][0].pwconv1.weight.grad is not None


@torch.no_grad()
def test_mask_ratio_zero_equals_plain_backbone():
    torch.manual_seed(0)
    model = FCMAE(backbone=dict(arch='atto'), mask_ratio=0.).eval()
    for m in model.modules():
        if isinstance(m, GRN):
            torch.nn.init.normal_(m.gamma, std=.5)
            torch.nn.init.normal_(m.beta, std=.1)
    plain = ConvNeXtV2('atto', out_indices=(0, 1, 2, 3), out_type='featmap').eval()
    report = load_pretrained(plain, {'state_dict': model.state_dict()}, prefix='backbone.')
    assert report['unexpected'] == []
    feats = {}
    plain.stages[3].register_forward_hook(lambda mod, inp, out: feats.setdefault('c3', out))
    x = torch.randn(2, 3, 96, 96)
    plain(x)
    mask = model.generate_mask(x)
    assert mask.sum() == 0
    torch.testing.assert_close(model.backbone(x, mask), feats['c3'], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.backbone(x), feats['c3'], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.extract_feat(x), feats['c3'], atol=1e-5, rtol=1e-5)


# ---- masking semantics ----------------------------------------------------------------------------------------
def test_no_leak_from_masked_pixels():
    """Pixels under masked cells change neither the visible features, nor the predictions, nor the loss of the
    other samples; and they get no gradient."""
    model, _ = official_model()
    torch.manual_seed(0)
    x = torch.randn(3, 3, 128, 128)
    mask = gen_random_mask(3, 16, 0.6)
    pixel_mask = mask.view(3, 1, 4, 4).repeat_interleave(32, 2).repeat_interleave(32, 3)
    x2 = x + 5 * torch.randn_like(x) * pixel_mask * torch.tensor([1., 0, 0]).view(3, 1, 1, 1)  # sample 0 only
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x2, mask), model.backbone(x, mask), atol=0, rtol=0)
        pred, _ = model.reconstruct(x, mask)
        pred2, _ = model.reconstruct(x2, mask)
        torch.testing.assert_close(pred2, pred, atol=0, rtol=0)
        for i in (1, 2):
            assert model.loss(x2[i:i + 1], mask=mask[i:i + 1])['loss'] == model.loss(x[i:i + 1],
                                                                                     mask=mask[i:i + 1])['loss']
        assert model.loss(x2, mask=mask)['loss'] != model.loss(x, mask=mask)['loss']  # the targets did change
    xg = x.clone().requires_grad_()
    model.backbone(xg, mask).square().sum().backward()
    assert (xg.grad * pixel_mask == 0).all() and (xg.grad * (1 - pixel_mask)).abs().sum() > 0


def test_grn_statistics_over_visible_positions_only():
    model, _ = official_model()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 96, 96)
    mask = gen_random_mask(2, 9, 0.6)
    block = model.backbone.stages[1][0]
    seen = []
    handle = block.grn.register_forward_hook(lambda mod, inp, out: seen.append((inp[0], out)))
    with torch.no_grad():
        model.backbone(x, mask)
        model.backbone._forward_dense_masked(x, mask.view(2, 3, 3).bool())
    handle.remove()
    (rows, out), (dense_in, _) = seen
    # the GRN of the masked encoder sees exactly the visible positions (stage 1: 4x4 pixels per cell)
    visible = (1 - mask.view(2, 3, 3)).repeat_interleave(4, 1).repeat_interleave(4, 2).bool()  # (N, 12, 12)
    assert rows.shape[1] == int(visible[0].sum())
    for i in range(2):
        expect_rows = dense_in[i][visible[i]]
        got_rows = rows[i].reshape(-1, rows.shape[-1])
        torch.testing.assert_close(got_rows.sort(0).values, expect_rows.sort(0).values, atol=1e-5, rtol=1e-5)
        # and its output is GRN computed on those visible positions alone
        torch.testing.assert_close(out[i].reshape(-1, rows.shape[-1]),
                                   grn(got_rows, block.grn.gamma, block.grn.beta), atol=1e-5, rtol=1e-5)
        # statistics that included the masked positions would differ
        all_pos = grn(dense_in[i].reshape(-1, rows.shape[-1]), block.grn.gamma, block.grn.beta)
        assert not torch.allclose(all_pos[visible[i].reshape(-1)], grn(expect_rows, block.grn.gamma,
                                                                        block.grn.beta), atol=1e-3)


def test_loss_only_over_masked_patches():
    model, _ = official_model()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    mask = torch.tensor([[1., 0, 1, 0], [0, 1, 1, 0]])
    with torch.no_grad():
        pred, m = model.reconstruct(x, mask)
        loss = model.head.loss(pred, x, m)
        noisy_visible = pred + 10 * torch.randn_like(pred) * (1 - m)[..., None]
        assert model.head.loss(noisy_visible, x, m) == loss
        noisy_masked = pred + 10 * torch.randn_like(pred) * m[..., None]
        assert model.head.loss(noisy_masked, x, m) > loss
        # per-patch normalised-pixel MSE averaged over the masked patches
        t = x.reshape(2, 3, 2, 32, 2, 32).permute(0, 2, 4, 3, 5, 1).reshape(2, 4, -1)
        t = (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True) + 1e-6)**.5
        per_patch = ((pred - t)**2).mean(-1)
        torch.testing.assert_close(loss, per_patch[m.bool()].mean())


def test_random_mask_follows_the_official_generator():
    torch.manual_seed(0)
    mask = gen_random_mask(64, 49, 0.6)
    assert mask.shape == (64, 49) and set(mask.unique().tolist()) == {0., 1.}
    assert (mask.sum(1) == 30).all()  # len_keep = int(49 * 0.4) = 19 visible (official gen_random_mask)
    assert 0.45 < mask.mean(0).min() and mask.mean(0).max() < 0.8  # every cell gets masked about 61% of the time
    assert not torch.equal(mask[0], mask[1])


def test_visible_layout_rows_are_the_visible_positions():
    keep = torch.tensor([[0, 5], [3, 4]])  # cells of a 2 x 3 grid
    layout = VisibleLayout(keep, (2, 3))
    for stage, side in enumerate((8, 4, 2, 1)):
        h, w = layout.shapes[stage]
        assert (h, w) == (2 * side, 3 * side) and layout.sides[stage] == side
        idx = layout.flat_index[stage].view(2, -1)
        assert idx.shape[1] == 2 * side * side
        for n in range(2):
            ys, xs = (idx[n] - n * h * w) // w, (idx[n] - n * h * w) % w
            cells = set(((ys // side) * 3 + xs // side).tolist())
            assert cells == set(keep[n].tolist())
        x = torch.randn(2, idx.shape[1], 5)
        canvas = layout.scatter(x, stage)
        assert canvas.shape == (2, 5, h, w) and int((canvas.abs().sum(1) > 0).sum()) == idx.numel()
        torch.testing.assert_close(layout.gather(canvas, stage), x)


# ---- checkpoints and hand-off ---------------------------------------------------------------------------------
def test_official_training_checkpoint_converts_for_resume():
    sd = minkowski_state_dict()
    converted = convert_fcmae_official(sd)
    model = FCMAE(backbone=dict(arch=ARCH), neck=dict(embed_dim=512))
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.neck.mask_token, sd['mask_token'])
    assert torch.equal(model.neck.decoder[0].grn.gamma, sd['decoder.0.grn.gamma'].reshape(-1))
    # the depthwise kernel (49, C) landed transposed in H/W (docs/convnext_v2.md#sparse-to-dense-conversion)
    k = sd['encoder.stages.0.0.dwconv.kernel']
    assert torch.equal(model.backbone.stages[0][0].dwconv.weight[:, 0, 2, 5], k[5 * 7 + 2])
    assert convert_fcmae_official(model.state_dict()).keys() == model.state_dict().keys()  # no-op on ours


def test_convert_tool_keeps_decoder(tmp_path):
    import sys
    sys.path.insert(0, str(__import__('helpers').ROOT / 'tools/convert'))
    try:
        import convnext_v2 as tool
    finally:
        sys.path.pop(0)
    src, dst = tmp_path / 'official.pt', tmp_path / 'ours.pth'
    sd = minkowski_state_dict()
    torch.save({'model': sd, 'epoch': 10}, src)
    tool.main([str(src), str(dst), '--keep-decoder'])
    state = torch.load(dst, map_location='cpu')['state_dict']
    model = FCMAE(backbone=dict(arch=ARCH), neck=dict(embed_dim=512))
    model.load_state_dict(state, strict=True)
    tool.main([str(src), str(dst)])
    assert not any(k.startswith('neck.') for k in torch.load(dst, map_location='cpu')['state_dict'])


@pytest.mark.parametrize('config', ['mask_rcnn_convnextv2_base_coco.py', 'upernet_convnextv2_base_ade20k.py'])
def test_pretraining_checkpoint_initialises_det_and_seg_backbones(tmp_path, config):
    from mmengine.config import Config

    from helpers import ROOT
    model = FCMAE(backbone=dict(arch='atto'))
    ckpt = tmp_path / 'fcmae.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    cfg = Config.fromfile(ROOT / 'configs' / config).model.backbone
    cfg.update(arch='atto', init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    cfg.pop('type')
    backbone = ConvNeXtV2(**cfg)
    backbone.init_weights()
    report = backbone.pretrained_report
    # every encoder weight comes from the checkpoint; only the det/seg output norms (absent from any FCMAE
    # encoder, official ones included, docs/convnext_v2.md#the-model) keep their LayerNorm init
    assert report['unexpected'] == []
    assert sorted(report['missing']) == sorted(f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias'))
    for name, value in backbone.state_dict().items():
        if not name.startswith('norm'):
            assert torch.equal(value, model.state_dict()['backbone.' + name]), name


# ---- construction and errors ----------------------------------------------------------------------------------
def test_parameters_and_names_match_the_official_model():
    model = FCMAE(backbone=dict(arch='base'))
    enc = sum(p.numel() for p in model.backbone.parameters())
    assert abs(enc / 1e6 - 87.69) < 0.05  # docs/convnext_v2.md#variants-and-parameter-counts
    assert sum(p.numel() for p in model.neck.proj.parameters()) == 1024 * 512 + 512
    assert sum(p.numel() for p in model.neck.pred.parameters()) == 512 * 3072 + 3072  # 1.58M
    assert abs(sum(p.numel() for p in model.neck.decoder.parameters()) / 1e6 - 2.13) < 0.01
    names = set(model.state_dict())
    assert {'neck.mask_token', 'neck.proj.weight', 'neck.decoder.0.grn.gamma', 'neck.pred.bias',
            'backbone.stages.2.26.pwconv2.weight', 'backbone.downsample_layers.3.1.weight'} <= names
    assert not any(k.startswith('backbone.norm') for k in names)
    # init (module docstring): std .02 everywhere, mask token std .02, GRN zero
    assert model.backbone.stages[0][0].dwconv.weight.std() < 0.03
    assert model.neck.pred.weight.std() < 0.03 and 0.01 < model.neck.mask_token.std() < 0.03
    assert (model.neck.decoder[0].grn.gamma == 0).all()


def test_registered_and_built_from_config():
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    model = PRETRAIN_MODELS.build(
        dict(type='mmconvmae.FCMAE', backbone=dict(type='mmconvmae.FCMAEConvNeXtV2', arch='atto'),
             neck=dict(type='mmconvmae.FCMAEDecoder', embed_dim=64),
             head=dict(type='mmpretrain.MAEPretrainHead', norm_pix=True, patch_size=32,
                       loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2'))))
    assert isinstance(model.neck, FCMAEDecoder) and model.neck.proj.in_channels == 320
    losses = model(torch.randn(2, 3, 64, 64), mode='loss')
    losses['loss'].backward()
    assert model.backbone.stages[0][0].pwconv1.weight.grad is not None


@pytest.mark.parametrize('ratio', [-0.1, 1.0, 1.5])
def test_bad_mask_ratio(ratio):
    with pytest.raises(ValueError, match=r'mask_ratio must be in \[0, 1\) \(official 0.6\), got'):
        FCMAE(backbone=dict(arch=ARCH), mask_ratio=ratio)


def test_bad_inputs_raise_clear_errors():
    model = FCMAE(backbone=dict(arch=ARCH), neck=dict(embed_dim=32))
    with pytest.raises(ValueError, match=r'square images with a side that is a multiple of the 32-pixel mask cell '
                       r'\(e.g. 224\), got 100x100'):
        model.loss(torch.randn(1, 3, 100, 100))
    with pytest.raises(ValueError, match=r'square images .* got 64x96'):
        model.loss(torch.randn(1, 3, 64, 96))
    with pytest.raises(ValueError, match=r'needs H and W divisible by its total stride 32, got 48x64'):
        model.backbone(torch.randn(1, 3, 48, 64), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r'one value per 32x32 cell: shape \(N, 6\) or \(N, 2, 3\) for input'):
        model.backbone(torch.randn(1, 3, 64, 96), torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r'mask_ratio 0.9 leaves no visible cell out of 4 at input 64x64'):
        FCMAE(backbone=dict(arch=ARCH), neck=dict(embed_dim=32), mask_ratio=0.9).loss(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"grn_stats must be 'sample' .* or 'batch' .*, got 'global'"):
        FCMAEConvNeXtV2(ARCH, grn_stats='global')
    with pytest.raises(ValueError, match='head patch_size must equal the encoder stride 32'):
        FCMAE(backbone=dict(arch=ARCH), neck=dict(embed_dim=32), head=dict(
            type='mmpretrain.MAEPretrainHead', patch_size=16,
            loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2')))


def test_bf16_autocast_close_to_fp32():
    model, _ = official_model()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 96, 96)
    mask = gen_random_mask(2, 9, 0.6)
    ref = model.backbone(x, mask)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = model.backbone(x, mask)
        loss = model.loss(x, mask=mask)['loss']
    assert torch.isfinite(loss)
    assert (out.float() - ref).norm() / ref.norm() < 0.05


def test_benchmark_tool_runs():
    from helpers import run_tool
    proc = run_tool('analysis/benchmark_fcmae.py', '--arch', 'atto', '--batch', '2', '--size', '64', '--repeats',
                    '1', '--warmup', '0', '--variants', 'full,sparse', '--whole', timeout=300)
    assert 'sparse/full ratio' in proc.stdout and 'fraction of ideal' in proc.stdout, proc.stdout
