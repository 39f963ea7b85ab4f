"""LayerDecayOptimWrapperConstructor: per-parameter lr scales and weight decay, from every host scope."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmconvmae.engine import LayerDecayOptimWrapperConstructor
from mmconvmae.models import Conv2Former, ConvNeXtV2


class Detector(nn.Module):
    """Stands in for a detector / segmentor / classifier: a ``backbone`` child plus a head."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.neck = nn.Conv2d(320, 8, 1)


class WithPosEmbed(ConvNeXtV2):

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pos_embed = nn.Parameter(torch.zeros(1, 4, 8))


def lr_and_wd(model, rate, decay_type):
    ctor = LayerDecayOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05)),
        dict(layer_decay_rate=rate, decay_type=decay_type))
    optim = ctor(model).optimizer
    table = {}
    for group in optim.param_groups:
        for name in group['param_names']:
            table[name] = (group['lr'], group['weight_decay'])
    assert len(table) == sum(1 for p in model.parameters() if p.requires_grad)
    return table


def test_layer_wise_lrs_follow_the_official_single_scheme():
    model = Detector(WithPosEmbed(arch='atto', out_indices=(0, 1, 2, 3), out_type='featmap'))
    t = lr_and_wd(model, 0.5, 'layer_wise')
    n = 2 + 2 + 6 + 2 + 2  # num_layers = sum(depths) + 2
    assert t['backbone.downsample_layers.0.0.weight'][0] == pytest.approx(0.5**(n - 1 - 1))
    assert t['backbone.stages.0.0.dwconv.weight'][0] == pytest.approx(0.5**(n - 1 - 1))
    assert t['backbone.stages.2.5.pwconv1.weight'][0] == pytest.approx(0.5**(n - 1 - 10))
    assert t['backbone.stages.3.1.pwconv2.weight'][0] == pytest.approx(0.5**(n - 1 - 12))
    assert t['backbone.norm2.weight'][0] == t['neck.weight'][0] == 1.0
    block_lrs = {t[f'backbone.stages.{s}.{b}.dwconv.weight'][0] for s, d in enumerate([2, 2, 6, 2]) for b in range(d)}
    assert len(block_lrs) == 12  # one lr per block
    # weight decay: none on norms, biases, GRN gamma/beta and position embeddings
    assert t['backbone.stages.1.0.pwconv1.weight'][1] == 0.05 and t['neck.weight'][1] == 0.05
    for name in ('backbone.stages.1.0.norm.weight', 'backbone.stages.1.0.pwconv1.bias',
                 'backbone.stages.1.0.grn.gamma', 'backbone.stages.1.0.grn.beta', 'backbone.norm0.weight',
                 'backbone.pos_embed', 'neck.bias'):
        assert t[name][1] == 0.0, name


def test_stage_wise_lrs_follow_the_official_group_scheme():
    t = lr_and_wd(Detector(ConvNeXtV2('atto', out_indices=(0, 1, 2, 3), out_type='featmap')), 0.5,
                  'stage_wise')
    n = 6 + 2  # atto: 6 groups (depths[2] <= 9)
    expect = {
        'backbone.downsample_layers.0.0.weight': 0, 'backbone.stages.0.1.dwconv.weight': 1,
        'backbone.downsample_layers.1.1.weight': 2, 'backbone.stages.1.0.dwconv.weight': 2,
        'backbone.downsample_layers.2.1.weight': 3, 'backbone.stages.2.2.dwconv.weight': 3,
        'backbone.stages.2.3.dwconv.weight': 4, 'backbone.stages.3.0.dwconv.weight': 6,
        'backbone.norm3.weight': 7, 'neck.weight': 7
    }
    for name, layer in expect.items():
        assert t[name][0] == pytest.approx(0.5**(n - 1 - layer)), name


def test_frozen_parameters_are_skipped_and_bare_backbones_work():
    backbone = ConvNeXtV2('atto', frozen_stages=1)
    t = lr_and_wd(backbone, 0.9, 'layer_wise')
    assert 'stages.0.0.dwconv.weight' not in t and 'stages.1.0.dwconv.weight' in t


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_constructor_builds_from_every_host_scope(scope):
    cfg = dict(constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
               optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
               paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='stage_wise'))
    with DefaultScope.overwrite_default_scope(scope):
        wrapper = build_optim_wrapper(Detector(ConvNeXtV2('atto')), cfg)
    lrs = sorted({g['lr'] for g in wrapper.optimizer.param_groups})
    assert len(lrs) == 7 and lrs[-1] == pytest.approx(1e-4)  # ids 0-4, 6, 7 (atto has no group 5)


@pytest.mark.parametrize('paramwise, message', [
    (dict(layer_decay_rate=1.5), r'layer_decay_rate must be in \(0, 1\], got 1.5'),
    (dict(decay_type='per_block'), r"decay_type must be one of \('layer_wise', 'stage_wise', 'per_stage'\)"),
    (dict(num_layers=0), r"num_layers must be a positive int \(the recipe's layer count\), got 0"),
    (dict(num_layers=12.0), r"num_layers must be a positive int"),
    (dict(decay_rate=0.9), r"Unknown paramwise_cfg keys \['decay_rate'\].*allowed: \['layer_decay_rate'"),
])
def test_bad_paramwise_cfg(paramwise, message):
    with pytest.raises(ValueError, match=message):
        LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1.0)), paramwise)


def test_model_without_layer_depth_is_refused():
    ctor = LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1.0)), dict(layer_decay_rate=0.9))
    with pytest.raises(TypeError, match='has no child with get_layer_depth'):
        ctor(nn.Sequential(nn.Linear(2, 2)))


def test_per_stage_with_the_recipe_num_layers():
    """ConvNeXt's / mmseg's segmentation ``stage_wise``: downsampling layers 0, stage s s + 1, the rest the top id;
    ``num_layers`` moves the top id to num_layers + 1 (12 for ConvNeXt-B's UperNet: stage s at 0.9 ** (12 - s))."""
    t = lr_and_wd(Detector(ConvNeXtV2('atto', out_indices=(0, 1, 2, 3), out_type='featmap')), 0.9,
                  'per_stage')
    assert t['backbone.downsample_layers.3.1.weight'][0] == pytest.approx(0.9**5)
    assert t['backbone.stages.3.1.dwconv.weight'][0] == pytest.approx(0.9)
    ctor = LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05)),
                                             dict(layer_decay_rate=0.9, decay_type='per_stage', num_layers=12))
    model = Detector(Conv2Former(arch=dict(depths=[1, 1, 2, 1], dims=[8, 16, 32, 320], kernel_size=3),
                                 out_type='featmap', out_indices=(0, 1, 2, 3)))
    lrs = {n: g['lr'] for g in ctor(model).optimizer.param_groups for n in g['param_names']}
    assert lrs['backbone.downsample_layers.0.0.weight'] == pytest.approx(0.9**13)
    for s in range(4):
        assert lrs[f'backbone.stages.{s}.0.attn.v.weight'] == pytest.approx(0.9**(12 - s))
    assert lrs['backbone.norm1.weight'] == lrs['neck.weight'] == 1.0


@pytest.mark.parametrize('backbone, channels', [
    (dict(type='mmconvmae.ConvNeXtV2', arch='atto'), 320),
    (dict(type='mmconvmae.Conv2Former', arch=dict(depths=[1, 1, 4, 1], dims=[8, 16, 32, 64], kernel_size=3),
          head_channels=48), 48),
])
def test_mmpretrain_layer_decay_constructor_on_an_image_classifier(backbone, channels):
    """mmpretrain's own ``LearningRateDecayOptimWrapperConstructor`` on an mmpretrain ``ImageClassifier`` calls
    ``backbone.get_layer_depth(name, 'backbone.')``; every parameter gets the lr and weight decay of ours."""
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(dict(type='ImageClassifier', backbone=backbone,
                                  head=dict(type='LinearClsHead', num_classes=4, in_channels=channels)))
        theirs = build_optim_wrapper(model, dict(
            constructor='LearningRateDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
            paramwise_cfg=dict(layer_decay_rate=0.7, flat_decay_mult=0.0, bias_decay_mult=0.0)))
    theirs = {g['param_name']: (g['lr'], g['weight_decay']) for g in theirs.optimizer.param_groups}
    ours = lr_and_wd(model, 0.7, 'layer_wise')
    assert theirs.keys() == ours.keys()
    for name, (lr, wd) in ours.items():
        assert theirs[name][0] == pytest.approx(lr) and theirs[name][1] == wd, name
    assert theirs['head.fc.weight'][0] == 1.0 and len({lr for lr, _ in ours.values()}) > 5
    # the prefix is stripped, names of other modules get the top id
    depth = model.backbone.get_layer_depth
    assert depth('backbone.stages.1.0.norm.weight' if 'ConvNeXt' in backbone['type'] else
                 'backbone.stages.1.0.attn.norm.weight', 'backbone.') == depth(
                     'stages.1.0.norm.weight' if 'ConvNeXt' in backbone['type'] else 'stages.1.0.attn.norm.weight')
    assert depth('head.fc.weight', 'backbone.')[0] == depth('head.fc.weight', 'backbone.')[1] - 1
    with pytest.raises(ValueError, match="decay_type must be layer_wise, stage_wise or per_stage, got 'x'"):
        depth('stages.0.0.norm.weight', decay_type='x')


def official_convnext_group_id(var_name: str, num_max_layer: int) -> int:
    """ConvNeXt-V2 ``optim_factory.py::get_num_layer_for_convnext`` (the ``group`` scheme), transcribed; the
    official code fixes ``num_max_layer = 12`` (3-3-27-3 arches), mmdet's / mmpretrain's ConvNeXt-T recipes use 6."""
    if var_name.startswith('downsample_layers'):
        stage_id = int(var_name.split('.')[1])
        return 0 if stage_id == 0 else stage_id + 1 if stage_id in (1, 2) else num_max_layer
    if var_name.startswith('stages'):
        stage_id, block_id = int(var_name.split('.')[1]), int(var_name.split('.')[2])
        return stage_id + 1 if stage_id in (0, 1) else 3 + block_id // 3 if stage_id == 2 else num_max_layer
    return num_max_layer + 1


def test_one_stage_wise_formula_gives_both_families_their_grouping():
    """ConvNeXtV2 and Conv2Former share ConvNetBackbone.get_layer_depth: the official ConvNeXt V2 group ids for
    every ConvNeXt V2 arch, and stage 2 in ceil(depth / 3) groups for every Conv2Former arch."""
    for arch, spec in ConvNeXtV2.arch_zoo.items():
        with torch.device('meta'):
            model = ConvNeXtV2(arch, out_indices=(0, 1, 2, 3), out_type='featmap')
        top = 12 if spec['depths'][2] == 27 else 6
        for name, _ in model.named_parameters():
            assert model.get_layer_depth(name, decay_type='stage_wise') == (
                official_convnext_group_id(name, top), top + 2), (arch, name)
    for arch, spec in Conv2Former.arch_zoo.items():
        with torch.device('meta'):
            model = Conv2Former(arch, out_indices=(0, 1, 2, 3), out_type='featmap')
        groups = -(-spec['depths'][2] // 3)
        ids = {name: model.get_layer_depth(name, decay_type='stage_wise') for name, _ in model.named_parameters()}
        assert {n for _, n in ids.values()} == {groups + 5}, arch
        assert ids['stages.2.%d.mlp.fc1.weight' % (spec['depths'][2] - 1)][0] == groups + 2
        assert ids['stages.3.0.mlp.fc1.weight'][0] == ids['downsample_layers.3.1.weight'][0] == groups + 3
