"""Conv2Former backbone: sizes against the official model, shapes, official checkpoints, parity, layouts, errors."""
import argparse

import pytest
import torch
import torch.nn.functional as F
from helpers import load_tool

from mmconvmae.models import Conv2Former
from mmconvmae.models.convert.conv2former import convert_conv2former_official
from mmconvmae.models.utils import DepthwiseConv2d, depthwise_weight_grad_fft, load_pretrained

# docs/conv2former.md#the-model: params (M) with the 1280-d head + 1000-class classifier, backbone only (no
# head / pred), and the number of official state-dict keys (BN buffers, head and pred included)
SPEC = {
    'n': (14.99, 13.05, 311), 't': (26.70, 24.68, 451), 's': (50.03, 48.01, 911), 'b': (90.03, 87.76, 951),
    'b_22k': (88.78, 86.52, 951), 'l': (198.89, 196.30, 1231)
}


@pytest.mark.parametrize('arch', list(SPEC))
def test_parameter_counts_and_keys_match_spec(arch):
    with torch.device('meta'):
        cls_model = Conv2Former(arch)
        dense = Conv2Former(arch, out_type='featmap', out_indices=(0, 1, 2, 3))
    with_head = sum(p.numel() for p in cls_model.parameters()) + 1280 * 1000 + 1000
    body = sum(p.numel() for n, p in dense.named_parameters() if not n.startswith('norm'))
    want_head, want_body, want_keys = SPEC[arch]
    assert round(with_head / 1e6, 2) == want_head
    assert round(body / 1e6, 2) == want_body
    assert len(cls_model.state_dict()) + 2 == want_keys  # + pred.weight, pred.bias


def official_state_dict(arch='n', dims=None, depths=None, kernel_size=None, classes=10, gist=False):
    """Random tensors with the official key names and shapes (docs/conv2former.md#official-checkpoints;
    ``attn.a.*`` when ``gist``)."""
    cfg = Conv2Former.arch_zoo[arch]
    d, depths, k = dims or cfg['dims'], depths or cfg['depths'], kernel_size or cfg['kernel_size']
    c0, sd = d[0] // 2, {}

    def bn(prefix, c):
        sd.update({prefix + 'weight': 1 + torch.randn(c) * .1, prefix + 'bias': torch.randn(c) * .1,
                   prefix + 'running_mean': torch.randn(c) * .1, prefix + 'running_var': 1 + torch.rand(c),
                   prefix + 'num_batches_tracked': torch.tensor(7)})

    def ln(prefix, c):
        sd.update({prefix + 'weight': 1 + torch.randn(c) * .1, prefix + 'bias': torch.randn(c) * .1})

    def conv(prefix, shape, bias=True):
        sd[prefix + 'weight'] = torch.randn(shape) * (shape[1] * shape[2] * shape[3])**-.5
        if bias:
            sd[prefix + 'bias'] = torch.randn(shape[0]) * .1

    conv('downsample_layers.0.0.', (c0, 3, 3, 3), bias=False)
    bn('downsample_layers.0.2.', c0)
    conv('downsample_layers.0.3.', (c0, c0, 3, 3), bias=False)
    bn('downsample_layers.0.5.', c0)
    conv('downsample_layers.0.6.', (d[0], c0, 2, 2), bias=False)
    for i in range(1, 4):
        ln(f'downsample_layers.{i}.0.', d[i - 1])
        conv(f'downsample_layers.{i}.1.', (d[i], d[i - 1], 2, 2))
    att = 'a' if gist else 'att'
    for s, (depth, c) in enumerate(zip(depths, d)):
        for b in range(depth):
            p = f'stages.{s}.{b}.'
            sd[p + 'layer_scale_1'] = torch.rand(c) + .5
            sd[p + 'layer_scale_2'] = torch.rand(c) + .5
            ln(p + 'attn.norm.', c)
            conv(p + f'attn.{att}.0.', (c, c, 1, 1))
            conv(p + f'attn.{att}.2.', (c, 1, k, k))
            conv(p + 'attn.v.', (c, c, 1, 1))
            conv(p + 'attn.proj.', (c, c, 1, 1))
            ln(p + 'mlp.norm.', c)
            conv(p + 'mlp.fc1.', (4 * c, c, 1, 1))
            conv(p + 'mlp.pos.', (4 * c, 1, 3, 3))
            conv(p + 'mlp.fc2.', (c, 4 * c, 1, 1))
    conv('head.0.', (1280, d[3], 1, 1))
    ln('head.2.', 1280)
    sd['pred.weight'] = torch.randn(classes, 1280) * .03
    sd['pred.bias'] = torch.randn(classes) * .1
    return sd


def official_forward(sd, depths, x):
    """Independent functional re-implementation of the official ``Conv2Former.forward`` (models/conv2former.py:
    NCHW, the hand-written channels-first LayerNorm, conv -> GELU -> BN stem), reading the official state dict.
    Returns the stage outputs (before any output norm) and the logits."""

    def ln(t, p, eps=1e-6):
        u = t.mean(1, keepdim=True)
        s = (t - u).pow(2).mean(1, keepdim=True)
        t = (t - u) / torch.sqrt(s + eps)
        return sd[p + 'weight'][:, None, None] * t + sd[p + 'bias'][:, None, None]

    def conv(t, p, **kw):
        return F.conv2d(t, sd[p + 'weight'], sd.get(p + 'bias'), **kw)

    def bn(t, p):
        return F.batch_norm(t, sd[p + 'running_mean'], sd[p + 'running_var'], sd[p + 'weight'], sd[p + 'bias'],
                            False, 0., 1e-5)

    x = bn(F.gelu(conv(x, 'downsample_layers.0.0.', stride=2, padding=1)), 'downsample_layers.0.2.')
    x = bn(F.gelu(conv(x, 'downsample_layers.0.3.', padding=1)), 'downsample_layers.0.5.')
    x = conv(x, 'downsample_layers.0.6.', stride=2)
    stages = []
    for i in range(4):
        if i:
            x = conv(ln(x, f'downsample_layers.{i}.0.'), f'downsample_layers.{i}.1.', stride=2)
        for b in range(depths[i]):
            p = f'stages.{i}.{b}.'
            k = sd[p + 'attn.att.2.weight'].shape[-1]
            y = ln(x, p + 'attn.norm.')
            a = conv(F.gelu(conv(y, p + 'attn.att.0.')), p + 'attn.att.2.', padding=k // 2, groups=x.shape[1])
            y = conv(a * conv(y, p + 'attn.v.'), p + 'attn.proj.')
            x = x + sd[p + 'layer_scale_1'][:, None, None] * y
            y = F.gelu(conv(ln(x, p + 'mlp.norm.'), p + 'mlp.fc1.'))
            y = y + F.gelu(conv(y, p + 'mlp.pos.', padding=1, groups=y.shape[1]))
            x = x + sd[p + 'layer_scale_2'][:, None, None] * conv(y, p + 'mlp.fc2.')
        stages.append(x)
    feat = ln(F.gelu(conv(x, 'head.0.')), 'head.2.').mean((-2, -1))
    return stages, F.linear(feat, sd['pred.weight'], sd['pred.bias'])


@pytest.mark.parametrize('arch', ['n', 't', 'b_22k', 'l'])
def test_state_dict_keys_are_the_official_scheme(arch):
    with torch.device('meta'):
        model = Conv2Former(arch)
        official = official_state_dict(arch)
    ours = model.state_dict()
    expected = convert_conv2former_official(official)
    assert list(expected) == list(ours)
    assert all(expected[k].shape == ours[k].shape for k in ours)


TINY = dict(depths=[1, 2, 3, 1], dims=[16, 32, 48, 64], kernel_size=11)


@torch.no_grad()
@pytest.mark.parametrize('channels_last', [True, False])
def test_official_timm_checkpoint_file_loads_and_matches_official_forward(tmp_path, channels_last):
    """A timm CheckpointSaver file (pickled argparse.Namespace ``args``, ``state_dict`` + ``state_dict_ema``)
    loads through init_cfg with nothing missing or unexpected, and both layouts reproduce the official forward."""
    sd = official_state_dict(dims=TINY['dims'], depths=TINY['depths'], kernel_size=11)
    path = tmp_path / 'conv2former_tiny.pth.tar'
    torch.save({'epoch': 299, 'arch': 'conv2former_t', 'state_dict': sd, 'state_dict_ema': sd, 'version': 2,
                'args': argparse.Namespace(model='conv2former_t', lr=1e-3, drop_path=0.1), 'metric': 83.2}, path)
    model = Conv2Former(TINY, channels_last=channels_last,
                        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    report = model.pretrained_report
    assert report['missing'] == [] and report['unexpected'] == []
    assert torch.equal(model.stages[2][2].attn.att[2].weight, sd['stages.2.2.attn.att.2.weight'])
    x = torch.randn(2, 3, 64, 96)
    stages, logits = official_forward(sd, TINY['depths'], x)
    feat = model.eval()(x)[0]
    torch.testing.assert_close(F.linear(feat, sd['pred.weight'], sd['pred.bias']), logits, atol=1e-4, rtol=1e-4)

    dense = Conv2Former(TINY, out_type='featmap', out_indices=(0, 1, 2, 3), channels_last=channels_last).eval()
    report = load_pretrained(dense, str(path))
    assert report['unexpected'] == []
    assert sorted(report['missing']) == sorted(f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias'))
    for i, out in enumerate(dense(x)):
        ref = F.layer_norm(stages[i].permute(0, 2, 3, 1), stages[i].shape[1:2], eps=1e-6).permute(0, 3, 1, 2)
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_gist_naming_and_4d_layer_scales_are_converted():
    sd = official_state_dict(dims=TINY['dims'], depths=TINY['depths'], kernel_size=11, gist=True)
    sd = {k: v.reshape(1, -1, 1, 1) if 'layer_scale' in k else v for k, v in sd.items()}
    model = Conv2Former(TINY, out_type='featmap', out_indices=3)
    report = load_pretrained(model, {'model': sd})
    assert report['unexpected'] == [] and report['missing'] == ['norm3.weight', 'norm3.bias']
    assert torch.equal(model.stages[0][0].attn.att[0].weight, sd['stages.0.0.attn.a.0.weight'])


def test_wrong_kernel_checkpoint_is_refused_naming_the_key():
    sd = official_state_dict(dims=TINY['dims'], depths=TINY['depths'], kernel_size=7)
    with pytest.raises(ValueError, match=r'stages\.0\.0\.attn\.att\.2\.weight: \(16, 1, 7, 7\)'):
        load_pretrained(Conv2Former(TINY), sd)


@pytest.mark.parametrize('shape,kernel,channels_last', [((2, 8, 20, 20), 11, False), ((3, 5, 7, 9), 11, True),
                                                      ((1, 4, 13, 6), 7, True), ((2, 3, 4, 4), 3, False)])
def test_depthwise_fft_weight_grad_matches_native(shape, kernel, channels_last):
    """Same forward (bit for bit) and the same gradients as nn.Conv2d, also for maps smaller than the kernel."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    fft = DepthwiseConv2d(shape[1], kernel, weight_grad='fft')
    native = DepthwiseConv2d(shape[1], kernel, weight_grad='native')
    native.load_state_dict(fft.state_dict())
    x = torch.randn(shape).to(memory_format=fmt).requires_grad_()
    g = torch.randn(shape)
    out_fft, out_native = fft(x), native(x)
    assert torch.equal(out_fft, out_native)
    grads_fft = torch.autograd.grad(out_fft, (x, fft.weight, fft.bias), g)
    grads_native = torch.autograd.grad(out_native, (x, native.weight, native.bias), g)
    for a, b in zip(grads_fft, grads_native):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert depthwise_weight_grad_fft(x.detach(), g, kernel).shape == (shape[1], 1, kernel, kernel)
    assert 'FFTWeightGrad' in type(DepthwiseConv2d(shape[1], kernel)(x).grad_fn).__name__  # 'auto' on CPU
    assert 'FFTWeightGrad' not in type(native(x).grad_fn).__name__
    with pytest.raises(ValueError, match='odd kernel_size'):
        DepthwiseConv2d(4, 4)
    with pytest.raises(ValueError, match='weight_grad'):
        DepthwiseConv2d(4, 3, weight_grad='cuda')


def test_fast_path_gives_the_official_outputs_and_gradients():
    """The default (channels-last blocks, FFT depthwise weight gradient on CPU) against the official NCHW ops with
    PyTorch's native depthwise backward: same outputs and gradients up to float rounding."""
    torch.manual_seed(0)
    a = Conv2Former(TINY, out_type='featmap', out_indices=(0, 1, 2, 3), layer_scale_init_value=0.5)
    b = Conv2Former(TINY, out_type='featmap', out_indices=(0, 1, 2, 3), layer_scale_init_value=0.5,
                    channels_last=False, dw_weight_grad='native')
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64)
    outs_a, outs_b = a(x), b(x)
    for oa, ob in zip(outs_a, outs_b):
        torch.testing.assert_close(oa, ob, atol=1e-5, rtol=1e-5)
    weights = [torch.randn_like(o) for o in outs_a]
    sum((o * w).sum() for o, w in zip(outs_a, weights)).backward()
    sum((o * w).sum() for o, w in zip(outs_b, weights)).backward()
    gb = dict(b.named_parameters())
    for name, p in a.named_parameters():  # float rounding only: relative to the largest gradient entry
        assert (p.grad - gb[name].grad).abs().max() <= 1e-4 * gb[name].grad.abs().max(), name


def test_dense_output_shapes_and_channels():
    model = Conv2Former('n', out_type='featmap', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 128))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 32), (1, 128, 8, 16), (1, 256, 4, 8), (1, 512, 2, 4)]
    assert model.out_channels == (64, 128, 256, 512)
    assert all(o.is_contiguous() for o in outs)
    assert Conv2Former('n', out_type='featmap', out_indices=(-1, 1)).out_channels == (128, 512)
    assert Conv2Former('n').out_channels == (1280, )


def test_drop_path_frozen_stages_norm_eval_and_with_cp():
    model = Conv2Former(TINY, drop_path_rate=0.3, out_type='featmap', out_indices=(0, 1, 2, 3), frozen_stages=2,
                        norm_eval=True)
    rates = [getattr(blk.drop_path, 'drop_prob', 0.) for st in model.stages for blk in st]
    assert rates[0] == 0. and rates[-1] == pytest.approx(0.3) and rates == sorted(rates)
    model.train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert all(n.startswith(('downsample_layers.0.', 'downsample_layers.1.', 'stages.0.', 'stages.1.', 'norm0.',
                             'norm1.')) for n in frozen)
    assert any(n.startswith('stages.1.') for n in frozen) and not any(n.startswith('stages.2.') for n in frozen)
    assert not model.downsample_layers[0][2].training  # frozen stem and norm_eval BN
    assert model.stages[2].training

    torch.manual_seed(0)
    plain = Conv2Former(TINY, layer_scale_init_value=0.5)
    ckpt = Conv2Former(TINY, layer_scale_init_value=0.5, with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    plain(x)[0].sum().backward()
    ckpt(x)[0].sum().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize('decay_type', ['layer_wise', 'stage_wise', 'per_stage'])
def test_layer_depth_is_monotonic_over_the_network(decay_type):
    with torch.device('meta'):
        model = Conv2Former('t', out_type='featmap', out_indices=(0, 1, 2, 3))
    names = [n for n, _ in model.named_parameters()]
    num = {model.get_layer_depth(n, decay_type=decay_type)[1] for n in names}
    assert num == {dict(layer_wise=3 + 3 + 12 + 3 + 2, stage_wise=4 + 5, per_stage=6)[decay_type]}
    num = num.pop()
    # network order: stem, then per stage its downsampling layer and blocks
    order = []
    for i in range(4):
        order += [n for n in names if n.startswith(f'downsample_layers.{i}.')]
        order += [n for n in names if n.startswith(f'stages.{i}.')]
    body = [model.get_layer_depth(n, decay_type=decay_type)[0] for n in order]
    if decay_type != 'per_stage':  # per_stage puts every downsampling layer at 0
        assert body == sorted(body)
    assert body[0] == 0 and body[-1] == num - 2
    assert model.get_layer_depth('norm2.weight', decay_type=decay_type) == (num - 1, num)
    assert model.get_layer_depth('backbone.norm2.weight', 'backbone.', decay_type) == (num - 1, num)
    assert model.get_layer_depth('neck.stages.0.0.layer_scale_1', 'backbone.', decay_type) == (num - 1, num)
    with pytest.raises(ValueError, match='decay_type'):
        model.get_layer_depth('stages.0.0.layer_scale_1', decay_type='bogus')


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="Unknown Conv2Former arch 'xl'"):
        Conv2Former('xl')
    with pytest.raises(ValueError, match='missing keys'):
        Conv2Former(dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64]))
    with pytest.raises(ValueError, match='positive odd'):
        Conv2Former('n', kernel_size=8)
    with pytest.raises(ValueError, match="out_type='avg_featmap'"):
        Conv2Former('n', out_indices=(0, 1, 2, 3))
    with pytest.raises(ValueError, match='out_indices'):
        Conv2Former('n', out_type='featmap', out_indices=(4, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        Conv2Former('n', frozen_stages=5)
    model = Conv2Former(TINY)
    with pytest.raises(ValueError, match='divisible by its total stride 32, got 48x64'):
        model(torch.randn(1, 3, 48, 64))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        model(torch.randn(3, 64, 64))


@torch.no_grad()
def test_converter_writes_an_mmpretrain_classifier_with_the_official_logits(tmp_path, capsys):
    from mmpretrain.models import ImageClassifier
    sd = official_state_dict(dims=TINY['dims'], depths=TINY['depths'], kernel_size=11, classes=10)
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in sd.items()}
    src, dst = tmp_path / 'conv2former.pth.tar', tmp_path / 'converted.pth'
    torch.save({'state_dict': sd, 'state_dict_ema': ema, 'args': argparse.Namespace(model='t')}, src)
    tool = load_tool('convert/conv2former')
    tool.main([str(src), str(dst)])
    assert 'converted' in capsys.readouterr().out
    model = ImageClassifier(
        backbone=dict(type='mmconvmae.Conv2Former', arch=TINY),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=1280)).eval()
    model.load_state_dict(torch.load(dst, weights_only=True)['state_dict'], strict=True)
    x = torch.randn(2, 3, 64, 64)
    _, logits = official_forward(sd, TINY['depths'], x)
    torch.testing.assert_close(model(x, mode='tensor'), logits, atol=1e-4, rtol=1e-4)

    tool.main([str(src), str(dst), '--ema'])
    state = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(state['head.fc.weight'], ema['pred.weight'])
    torch.save({'model': {'foo.weight': torch.zeros(1)}}, src)
    with pytest.raises(SystemExit, match='no Conv2Former'):
        tool.main([str(src), str(dst)])


def test_layer_decay_constructor_groups():
    """Stage-wise layer decay through LayerDecayOptimWrapperConstructor: the stem gets the smallest lr, stage 2
    moves up every 3 blocks, output norms the full lr; no weight decay on layer scales, norms (BN too) and biases."""
    from mmconvmae.engine import LayerDecayOptimWrapperConstructor
    model = torch.nn.Module()
    model.backbone = Conv2Former(dict(depths=[1, 1, 7, 1], dims=[8, 16, 24, 32], kernel_size=3), out_type='featmap',
                                 out_indices=(0, 1, 2, 3))
    ctor = LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05)),
                                             dict(layer_decay_rate=0.5, decay_type='stage_wise'))
    table = {n: (g['lr'], g['weight_decay']) for g in ctor(model).optimizer.param_groups for n in g['param_names']}
    n = 3 + 5  # ceil(7 / 3) groups in stage 2 + stem, stages 0, 1, 3 and the output norms
    lr = {k: v[0] for k, v in table.items()}
    assert lr['backbone.downsample_layers.0.0.weight'] == pytest.approx(0.5**(n - 1))
    assert lr['backbone.stages.2.2.attn.v.weight'] == lr['backbone.stages.2.0.mlp.fc1.weight'] == pytest.approx(
        0.5**(n - 1 - 3))
    assert lr['backbone.stages.2.6.attn.v.weight'] == pytest.approx(0.5**(n - 1 - 5))
    assert lr['backbone.stages.3.0.attn.proj.weight'] == pytest.approx(0.5**(n - 1 - 6))
    assert lr['backbone.norm3.weight'] == 1.0
    assert table['backbone.stages.1.0.attn.att.2.weight'][1] == 0.05
    for name in ('backbone.stages.1.0.layer_scale_1', 'backbone.stages.1.0.attn.norm.weight',
                 'backbone.downsample_layers.0.2.weight', 'backbone.stages.1.0.mlp.pos.bias'):
        assert table[name][1] == 0.0, name
