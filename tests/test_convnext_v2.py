"""ConvNeXt V2 backbone: sizes against the paper table, shapes, official checkpoints, parity, numerics, errors."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmconvmae.models import ConvNeXtV2
from mmconvmae.models.convert.convnext_v2 import convert_convnextv2_official
from mmconvmae.models.utils import GRN, load_pretrained

# docs/convnext_v2.md#variants-and-parameter-counts: params (M) with a 1000-class head, and of the encoder only.
# (The official key scheme has 10 tensors per block, docs/convnext_v2.md#dense-key-scheme; our keys are checked
# against it in test_state_dict_keys_are_the_official_scheme.)
PAPER = {
    'atto': (3.71, 3.39), 'femto': (5.23, 4.85), 'pico': (9.07, 8.55), 'nano': (15.62, 14.98),
    'tiny': (28.64, 27.86), 'base': (88.72, 87.69), 'large': (197.96, 196.42), 'huge': (660.29, 657.47)
}


@pytest.mark.parametrize('arch', list(PAPER))
def test_parameter_counts_match_paper(arch):
    with torch.device('meta'):
        model = ConvNeXtV2(arch)
    encoder = sum(p.numel() for p in model.parameters()) / 1e6
    with_head = encoder + (model.dims[-1] * 1000 + 1000) / 1e6
    want_head, want_encoder = PAPER[arch]
    assert abs(with_head - want_head) / want_head < 0.005, (arch, with_head)
    assert abs(encoder - want_encoder) / want_encoder < 0.005, (arch, encoder)


def official_state_dict(arch='atto', head=True, norm=True, grn_shape=(1, 1, 1, -1)):
    """A state dict with the official key names and shapes (docs/convnext_v2.md#dense-key-scheme), random values."""
    cfg = ConvNeXtV2.arch_zoo[arch]
    d, sd = cfg['dims'], {}
    sd['downsample_layers.0.0.weight'] = torch.randn(d[0], 3, 4, 4) * .1
    sd['downsample_layers.0.0.bias'] = torch.randn(d[0]) * .1
    sd['downsample_layers.0.1.weight'] = 1 + torch.randn(d[0]) * .1
    sd['downsample_layers.0.1.bias'] = torch.randn(d[0]) * .1
    for i in range(1, 4):
        sd[f'downsample_layers.{i}.0.weight'] = 1 + torch.randn(d[i - 1]) * .1
        sd[f'downsample_layers.{i}.0.bias'] = torch.randn(d[i - 1]) * .1
        sd[f'downsample_layers.{i}.1.weight'] = torch.randn(d[i], d[i - 1], 2, 2) * .1
        sd[f'downsample_layers.{i}.1.bias'] = torch.randn(d[i]) * .1
    for s, (depth, c) in enumerate(zip(cfg['depths'], d)):
        for b in range(depth):
            p = f'stages.{s}.{b}.'
            sd[p + 'dwconv.weight'] = torch.randn(c, 1, 7, 7) * .1
            sd[p + 'dwconv.bias'] = torch.randn(c) * .1
            sd[p + 'norm.weight'] = 1 + torch.randn(c) * .1
            sd[p + 'norm.bias'] = torch.randn(c) * .1
            sd[p + 'pwconv1.weight'] = torch.randn(4 * c, c) * .1
            sd[p + 'pwconv1.bias'] = torch.randn(4 * c) * .1
            sd[p + 'grn.gamma'] = (torch.randn(4 * c) * .5).reshape(grn_shape)
            sd[p + 'grn.beta'] = (torch.randn(4 * c) * .1).reshape(grn_shape)
            sd[p + 'pwconv2.weight'] = torch.randn(c, 4 * c) * .1
            sd[p + 'pwconv2.bias'] = torch.randn(c) * .1
    if norm:
        sd['norm.weight'] = 1 + torch.randn(d[3]) * .1
        sd['norm.bias'] = torch.randn(d[3]) * .1
    if head:
        sd['head.weight'] = torch.randn(1000, d[3]) * .01
        sd['head.bias'] = torch.zeros(1000)
    return sd


class OfficialConvNeXtV2(nn.Module):
    """Independent re-implementation of the official forward (facebookresearch/ConvNeXt-V2 models/convnextv2.py,
    ``Block`` and ``ConvNeXtV2.forward_features``), functional, reading the official state dict directly."""

    def __init__(self, sd, depths):
        super().__init__()
        self.sd, self.depths = sd, depths

    @staticmethod
    def ln_first(x, w, b, eps=1e-6):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + eps)
        return w[:, None, None] * x + b[:, None, None]

    def forward(self, x):
        sd = self.sd
        for i in range(4):
            p = f'downsample_layers.{i}.'
            if i == 0:
                x = F.conv2d(x, sd[p + '0.weight'], sd[p + '0.bias'], stride=4)
                x = self.ln_first(x, sd[p + '1.weight'], sd[p + '1.bias'])
            else:
                x = self.ln_first(x, sd[p + '0.weight'], sd[p + '0.bias'])
                x = F.conv2d(x, sd[p + '1.weight'], sd[p + '1.bias'], stride=2)
            for b in range(self.depths[i]):
                q = f'stages.{i}.{b}.'
                inp = x
                y = F.conv2d(x, sd[q + 'dwconv.weight'], sd[q + 'dwconv.bias'], padding=3, groups=x.shape[1])
                y = y.permute(0, 2, 3, 1)
                y = F.layer_norm(y, y.shape[-1:], sd[q + 'norm.weight'], sd[q + 'norm.bias'], 1e-6)
                y = F.gelu(F.linear(y, sd[q + 'pwconv1.weight'], sd[q + 'pwconv1.bias']))
                gx = torch.norm(y, p=2, dim=(1, 2), keepdim=True)
                nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
                y = sd[q + 'grn.gamma'] * (y * nx) + sd[q + 'grn.beta'] + y
                y = F.linear(y, sd[q + 'pwconv2.weight'], sd[q + 'pwconv2.bias'])
                x = inp + y.permute(0, 3, 1, 2)
        feat = F.layer_norm(x.mean([-2, -1]), x.shape[1:2], sd['norm.weight'], sd['norm.bias'], 1e-6)
        return feat, F.linear(feat, sd['head.weight'], sd['head.bias'])


@pytest.mark.parametrize('arch', ['atto', 'nano', 'base'])
def test_state_dict_keys_are_the_official_scheme(arch):
    with torch.device('meta'):
        model = ConvNeXtV2(arch)
    official = official_state_dict(arch) if arch != 'base' else None
    if official is None:  # avoid materialising base: compare key names and shapes only
        with torch.device('meta'):
            official = official_state_dict(arch)
    ours = model.state_dict()
    expected = convert_convnextv2_official(official)
    assert list(expected) == list(ours)
    assert all(expected[k].shape == ours[k].shape for k in ours)


@torch.no_grad()
def test_official_checkpoint_loads_and_matches_official_forward():
    sd = official_state_dict('atto')
    model = ConvNeXtV2('atto').eval()
    report = load_pretrained(model, {'model': sd})
    assert report['missing'] == [] and report['unexpected'] == []
    assert torch.equal(model.stages[2][5].grn.gamma, sd['stages.2.5.grn.gamma'].reshape(-1))
    assert torch.equal(model.norm3.weight, sd['norm.weight'])
    x = torch.randn(2, 3, 64, 96)
    feat, _ = OfficialConvNeXtV2(sd, ConvNeXtV2.arch_zoo['atto']['depths'])(x)
    torch.testing.assert_close(model(x)[0], feat, atol=1e-5, rtol=1e-5)


def test_fcmae_pt_only_checkpoint_loads_into_detection_backbone():
    # pt_only files: encoder only, no norm / head; GRN stored as (1, 4C) (docs/convnext_v2.md#fcmae-pt_only-encoders)
    sd = official_state_dict('atto', head=False, norm=False, grn_shape=(1, -1))
    model = ConvNeXtV2('atto', out_indices=(0, 1, 2, 3), out_type='featmap')
    report = load_pretrained(model, sd)
    assert report['unexpected'] == []
    assert sorted(report['missing']) == sorted(f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias'))


def to_minkowski(sd):
    """Official dense encoder keys -> the FCMAE MinkowskiEngine training keys (inverse of
    docs/convnext_v2.md#sparse-to-dense-conversion)."""
    out = {}
    for k, v in sd.items():
        if k.startswith(('norm.', 'head.')):
            continue
        parts = k.split('.')
        if k.startswith('downsample_layers.0'):
            out['encoder.' + k] = v
        elif k.startswith('downsample_layers'):
            if parts[2] == '0':
                out[f'encoder.downsample_layers.{parts[1]}.0.ln.{parts[3]}'] = v
            elif parts[3] == 'weight':  # (out, in, k, k) -> (k*k, in, out)
                out[f'encoder.{parts[0]}.{parts[1]}.1.kernel'] = v.transpose(3, 2).reshape(*v.shape[:2], -1).permute(
                    2, 1, 0)
            else:
                out[f'encoder.{parts[0]}.{parts[1]}.1.bias'] = v.reshape(1, -1)
        else:
            name = parts[3]
            base = 'encoder.' + '.'.join(parts[:3])
            if name == 'dwconv':
                if parts[4] == 'weight':
                    out[base + '.dwconv.kernel'] = v.transpose(3, 2).reshape(v.shape[0], -1).permute(1, 0)
                else:
                    out[base + '.dwconv.bias'] = v.reshape(1, -1)
            elif name == 'norm':
                out[f'{base}.norm.ln.{parts[4]}'] = v
            elif name in ('pwconv1', 'pwconv2'):
                out[f'{base}.{name}.linear.{parts[4]}'] = v
            else:
                out[k.replace('stages', 'encoder.stages')] = v.reshape(1, -1)
    out['mask_token'] = torch.zeros(1, 512, 1, 1)
    out['proj.weight'] = torch.zeros(512, 320, 1, 1)
    out['decoder.0.dwconv.weight'] = torch.zeros(512, 1, 7, 7)
    out['pred.weight'] = torch.zeros(3072, 512, 1, 1)
    return out


@torch.no_grad()
def test_minkowski_fcmae_training_checkpoint_converts_to_dense_weights():
    sd = official_state_dict('atto', head=False, norm=False)
    converted = convert_convnextv2_official(to_minkowski(sd))
    expected = convert_convnextv2_official(sd)
    assert sorted(converted) == sorted(expected)
    for k in expected:
        assert torch.equal(converted[k], expected[k]), k


def test_wrong_shape_names_the_key():
    with pytest.raises(ValueError, match=r'downsample_layers\.0\.0\.weight: \(40, 3, 4, 4\) in the'):
        load_pretrained(ConvNeXtV2('femto'), official_state_dict('atto'))


@pytest.mark.parametrize('arch', ['atto', 'tiny'])
def test_feature_shapes_and_strides(arch):
    model = ConvNeXtV2(arch, out_indices=(0, 1, 2, 3), out_type='featmap')
    outs = model(torch.randn(1, 3, 96, 160))
    assert [tuple(o.shape) for o in outs] == [(1, c, 96 // s, 160 // s) for c, s in zip(model.dims, (4, 8, 16, 32))]
    assert model.out_channels == tuple(model.dims)
    cls = ConvNeXtV2(arch)
    assert [tuple(o.shape) for o in cls(torch.randn(2, 3, 64, 64))] == [(2, cls.dims[-1])]
    single = ConvNeXtV2(arch, out_indices=-2, out_type='featmap')
    assert [tuple(o.shape) for o in single(torch.randn(1, 3, 64, 64))] == [(1, single.dims[2], 4, 4)]
    assert hasattr(single, 'norm2') and not hasattr(single, 'norm3')


def test_custom_arch_and_drop_path():
    model = ConvNeXtV2(dict(depths=[1, 1, 2, 1], dims=[8, 16, 24, 32]), drop_path_rate=0.3)
    rates = [blk.drop_path.drop_prob for stage in model.stages for blk in stage if hasattr(blk.drop_path,
                                                                                        'drop_prob')]
    assert rates[-1] == pytest.approx(0.3) and len(rates) == 4  # the first block has rate 0 (Identity)
    model.train()
    out = model(torch.randn(2, 3, 32, 32))[0]
    out.sum().backward()


def test_frozen_stages_and_with_cp():
    model = ConvNeXtV2('atto', out_indices=(0, 1, 2, 3), out_type='featmap', frozen_stages=2,
                       with_cp=True)
    model.train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert all(n.startswith(('downsample_layers.0', 'downsample_layers.1', 'stages.0', 'stages.1', 'norm0',
                             'norm1')) for n in frozen)
    assert any(n.startswith('stages.1') for n in frozen) and not model.stages[0].training
    assert model.stages[2].training
    ref = ConvNeXtV2('atto', out_indices=(0, 1, 2, 3), out_type='featmap')
    ref.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model(x.requires_grad_())[3], ref(x)[3])
    model(x)[3].sum().backward()
    assert model.stages[3][0].dwconv.weight.grad is not None and model.stages[0][0].dwconv.weight.grad is None


def test_grn_fp32_under_autocast_and_fp16_overflow():
    torch.manual_seed(0)
    grn = GRN(64)
    nn.init.normal_(grn.gamma, std=0.5)
    nn.init.normal_(grn.beta, std=0.1)
    x = torch.randn(2, 16, 16, 64) * 3
    ref = grn(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = grn(x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=5e-2)
    # sum of squares far above the fp16 maximum (65504): a fp16 computation would give inf / nan
    big = torch.full((1, 16, 16, 64), 200.)
    assert torch.isinf((big.half() ** 2).sum(dim=(1, 2))).all()
    out16 = grn(big.half())
    assert out16.dtype == torch.float16 and torch.isfinite(out16).all()
    torch.testing.assert_close(out16.float(), grn(big), rtol=1e-3, atol=1e-1)


def test_block_bf16_autocast_close_to_fp32():
    torch.manual_seed(0)
    model = ConvNeXtV2('atto', out_indices=(0, 1, 2, 3), out_type='featmap').eval()
    for m in model.modules():
        if isinstance(m, GRN):
            nn.init.normal_(m.gamma, std=0.5)
    x = torch.randn(1, 3, 64, 64)
    ref = model(x)[3]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = model(x)[3]
    rel = (out.float() - ref).norm() / ref.norm()
    assert rel < 0.05, rel


@pytest.mark.parametrize('kwargs, message', [
    (dict(arch='small'), r"Unknown ConvNeXtV2 arch 'small'; choose one of \['atto', 'base'"),
    (dict(arch=dict(depths=[1, 1, 1, 1])), r"missing keys \['dims'\]"),
    (dict(arch=dict(depths=[1, 1, 1], dims=[8, 16, 32])), 'needs 4 depths and 4 dims'),
    (dict(out_indices=(0, 4)), r'out_indices must be integers in \[-4, 3\] \(4 available\), got 4'),
    (dict(frozen_stages=5), r'frozen_stages must be in \[-1, 4\], got 5'),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvNeXtV2(**kwargs)


def test_bad_input_sizes_raise_clear_errors():
    model = ConvNeXtV2('atto')
    with pytest.raises(ValueError, match=r'needs H and W divisible by its total stride 32, got 100x64; pad'):
        model(torch.randn(1, 3, 100, 64))
    with pytest.raises(ValueError, match=r'expects \(N, C, H, W\) input, got shape \(3, 64, 64\)'):
        model(torch.randn(3, 64, 64))


def test_layer_depth_schemes():
    model = ConvNeXtV2('base')
    # official "single" scheme: stem shares id 1 with the first block; norm/head get sum(depths) + 1
    assert model.get_layer_depth('downsample_layers.0.0.weight') == (1, 38)
    assert model.get_layer_depth('stages.0.0.dwconv.weight') == (1, 38)
    assert model.get_layer_depth('downsample_layers.2.1.weight') == (7, 38)
    assert model.get_layer_depth('stages.3.2.grn.gamma') == (36, 38)
    assert model.get_layer_depth('norm3.weight') == (37, 38)
    # official "group" scheme for 3-3-27-3 (12 groups)
    assert model.get_layer_depth('downsample_layers.0.0.weight', decay_type='stage_wise') == (0, 14)
    assert model.get_layer_depth('stages.1.2.pwconv1.weight', decay_type='stage_wise') == (2, 14)
    assert model.get_layer_depth('stages.2.26.pwconv1.weight', decay_type='stage_wise') == (11, 14)
    assert model.get_layer_depth('downsample_layers.3.1.weight', decay_type='stage_wise') == (12, 14)
    assert model.get_layer_depth('norm3.bias', decay_type='stage_wise') == (13, 14)
    # ConvNeXt's segmentation stage_wise (per_stage): downsampling 0, stage s s + 1, the rest the top id
    assert model.get_layer_depth('downsample_layers.3.1.weight', decay_type='per_stage') == (0, 6)
    assert model.get_layer_depth('stages.2.26.pwconv1.weight', decay_type='per_stage') == (3, 6)
    assert model.get_layer_depth('norm3.bias', decay_type='per_stage') == (5, 6)
    assert math.isclose(0.5**(14 - 1 - 11), 0.25)
