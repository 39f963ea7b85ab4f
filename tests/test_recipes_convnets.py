"""Per-parameter recipes of every ConvNeXt V2 / FCMAE / Conv2Former entry config, against the official code.

Each entry config's model and optimizer wrapper are built from the config (the model on the meta device, the
param groups by the config's own constructor), and every parameter's learning rate and weight decay is compared
with an independent transcription of the constructor that produced the published number, written below on the
official parameter names:

- ConvNeXt-V2 ``optim_factory.py`` (``get_num_layer_for_convnext_single``, ``get_num_layer_for_convnext``,
  ``get_parameter_groups``) with the values of ``main_finetune.py`` (IN-1K fine-tuning);
- ConvNeXt-V2 ``main_pretrain.py`` + timm 0.3.2 ``add_weight_decay`` (FCMAE pretraining);
- ConvNeXt ``semantic_segmentation/mmcv_custom/layer_decay_optimizer_constructor.py`` ``stage_wise`` (the V2
  UperNet) -- the same function as mmseg's ``get_stage_id_for_convnext`` (the Conv2Former UperNet cites mmseg's
  ``convnext-tiny_upernet`` recipe);
- mmdet's ``LearningRateDecayOptimizerConstructor`` ``layer_wise`` (``get_layer_id_for_convnext``; the V2 Mask R-CNN
  follows mmdet's ``projects/ConvNeXt-V2``, the Conv2Former one mmdet's ConvNeXt-T Mask R-CNN 3x);
- Conv2Former ``train.py`` = timm ``create_optimizer_v2`` (``param_groups_weight_decay``).
"""
import copy
import functools
import math
from pathlib import Path

import pytest
import torch
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, DefaultScope

from mmconvmae.analysis import load_model
from mmconvmae.models import Conv2Former, ConvNeXtV2

ROOT = Path(__file__).resolve().parents[1]


# ---- transcriptions of the official functions (official parameter names) ----------------------------------------
def v2_single(var_name, depths):
    """ConvNeXt-V2 optim_factory.py ``get_num_layer_for_convnext_single``."""
    if var_name.startswith('downsample_layers'):
        stage_id = int(var_name.split('.')[1])
        return sum(depths[:stage_id]) + 1
    elif var_name.startswith('stages'):
        stage_id = int(var_name.split('.')[1])
        block_id = int(var_name.split('.')[2])
        return sum(depths[:stage_id]) + block_id + 1
    return sum(depths) + 1


def v2_group(var_name):
    """ConvNeXt-V2 optim_factory.py ``get_num_layer_for_convnext`` (12 groups, hard-coded)."""
    num_max_layer = 12
    if var_name.startswith('downsample_layers'):
        stage_id = int(var_name.split('.')[1])
        if stage_id == 0:
            return 0
        elif stage_id == 1 or stage_id == 2:
            return stage_id + 1
        return 12
    elif var_name.startswith('stages'):
        stage_id = int(var_name.split('.')[1])
        block_id = int(var_name.split('.')[2])
        if stage_id == 0 or stage_id == 1:
            return stage_id + 1
        elif stage_id == 2:
            return 3 + block_id // 3
        return 12
    return num_max_layer + 1


def v2_finetune(name, shape, *, lr, weight_decay, layer_decay, layer_decay_type, depths):
    """main_finetune.py (assigner values) + optim_factory.py ``get_parameter_groups`` -> (lr, weight decay)."""
    num_layers = 12 if layer_decay_type == 'group' else sum(depths)
    values = [layer_decay**(num_layers + 1 - i) for i in range(num_layers + 2)]
    layer_id = v2_group(name) if layer_decay_type == 'group' else v2_single(name, depths)
    if len(shape) == 1 or name.endswith('.bias') or name.endswith('.gamma') or name.endswith('.beta'):
        wd = 0.
    else:
        wd = weight_decay
    return lr * values[layer_id], wd


def fcmae_pretrain(name, shape, *, lr, weight_decay):
    """main_pretrain.py: timm 0.3.2 ``add_weight_decay(model, weight_decay)`` (skip_list empty), no layer decay."""
    if len(shape) == 1 or name.endswith('.bias'):
        return lr, 0.
    return lr, weight_decay


def convnext_seg_stage_wise(var_name, num_max_layer):
    """ConvNeXt semantic_segmentation ``get_num_layer_stage_wise`` (= mmseg ``get_stage_id_for_convnext``)."""
    if var_name in ('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed'):
        return 0
    elif var_name.startswith('backbone.downsample_layers'):
        return 0
    elif var_name.startswith('backbone.stages'):
        stage_id = int(var_name.split('.')[2])
        return stage_id + 1
    return num_max_layer - 1


def mmdet_layer_wise(var_name, max_layer_id):
    """mmdet ``get_layer_id_for_convnext`` (= ConvNeXt's ``get_num_layer_layer_wise``)."""
    if var_name in ('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed'):
        return 0
    elif var_name.startswith('backbone.downsample_layers'):
        stage_id = int(var_name.split('.')[2])
        return {0: 0, 1: 2, 2: 3, 3: max_layer_id}[stage_id]
    elif var_name.startswith('backbone.stages'):
        stage_id = int(var_name.split('.')[2])
        block_id = int(var_name.split('.')[3])
        if stage_id == 0:
            return 1
        elif stage_id == 1:
            return 2
        elif stage_id == 2:
            return 3 + block_id // 3
        return max_layer_id
    return max_layer_id + 1


def mm_layer_decay(name, shape, *, lr, weight_decay, decay_rate, decay_type, num_layers):
    """``LearningRateDecayOptimizerConstructor.add_params`` of ConvNeXt / mmdet / mmseg -> (lr, weight decay)."""
    n = num_layers + 2
    if len(shape) == 1 or name.endswith('.bias') or name in ('pos_embed', 'cls_token'):
        wd = 0.
    else:
        wd = weight_decay
    layer_id = mmdet_layer_wise(name, num_layers) if decay_type == 'layer_wise' else convnext_seg_stage_wise(name, n)
    return lr * decay_rate**(n - layer_id - 1), wd


def timm_v2(name, shape, *, lr, weight_decay):
    """timm ``create_optimizer_v2`` -> ``param_groups_weight_decay`` (Conv2Former has no ``no_weight_decay``)."""
    if len(shape) <= 1 or name.endswith('.bias'):
        return lr, 0.
    return lr, weight_decay


# ---- our names -> official names and shapes ------------------------------------------------------------------------
def official_v2_cls(name, shape):
    """mmpretrain ImageClassifier names -> official ConvNeXtV2 names; GRN gamma/beta are (1, 1, 1, 4C) there."""
    if name.startswith('head.fc.'):
        return 'head.' + name[len('head.fc.'):], shape
    name = name[len('backbone.'):]
    if name.startswith('norm3.'):
        name = 'norm.' + name[len('norm3.'):]
    if '.grn.' in name:
        shape = (1, 1, 1) + tuple(shape)
    return name, shape


def official_fcmae(name, shape):
    """Our FCMAE names -> the official (MinkowskiEngine) FCMAE: ``encoder.*`` with GRN (1, 4C), decoder ``proj`` /
    ``mask_token`` / ``decoder.0`` (dense GRN (1, 1, 1, C)) / ``pred`` at the top level."""
    if name.startswith('backbone.'):
        name = 'encoder.' + name[len('backbone.'):]
        if '.grn.' in name:
            shape = (1, ) + tuple(shape)
    elif name.startswith('neck.'):
        name = name[len('neck.'):]
        if '.grn.' in name:
            shape = (1, 1, 1) + tuple(shape)
    return name, shape


def official_conv2former_cls(name, shape):
    """mmpretrain ImageClassifier names -> official Conv2Former names (``pred`` is the classifier)."""
    if name.startswith('head.fc.'):
        return 'pred.' + name[len('head.fc.'):], shape
    return name[len('backbone.'):], shape


def same(name, shape):
    return name, shape


V2_DEPTHS = {a: [2, 2, 6, 2] for a in ('atto', 'femto', 'pico')}
V2_DEPTHS.update(nano=[2, 2, 8, 2], tiny=[3, 3, 9, 3], base=[3, 3, 27, 3], large=[3, 3, 27, 3], huge=[3, 3, 27, 3])


def _v2_ft(arch, blr, wd, ld, scheme, batch=1024):
    return official_v2_cls, v2_finetune, dict(lr=blr * batch / 256, weight_decay=wd, layer_decay=ld,
                                              layer_decay_type=scheme, depths=V2_DEPTHS[arch])


def _timm(lr=1e-3):
    return official_conv2former_cls, timm_v2, dict(lr=lr, weight_decay=0.05)


#: entry config -> (name map, official constructor, the published recipe's values)
RECIPES = {
    # ConvNeXt-V2 TRAINING.md (atto, tiny, base commands) and paper Tables 9-11 (the other arches)
    'configs/convnextv2_atto_ft_in1k.py': _v2_ft('atto', 2e-4, 0.3, 0.9, 'single'),
    'configs/convnextv2_femto_ft_in1k.py': _v2_ft('femto', 2e-4, 0.05, 0.9, 'single'),
    'configs/convnextv2_pico_ft_in1k.py': _v2_ft('pico', 2e-4, 0.3, 0.9, 'single'),
    'configs/convnextv2_nano_ft_in1k.py': _v2_ft('nano', 2e-4, 0.3, 0.9, 'single'),
    'configs/convnextv2_tiny_ft_in1k.py': _v2_ft('tiny', 8e-4, 0.05, 0.9, 'single'),
    'configs/convnextv2_base_ft_in1k.py': _v2_ft('base', 6.25e-4, 0.05, 0.6, 'group'),
    'configs/convnextv2_large_ft_in1k.py': _v2_ft('large', 6.25e-4, 0.05, 0.6, 'group'),
    'configs/convnextv2_huge_ft_in1k.py': _v2_ft('huge', 1.25e-3, 0.05, 0.75, 'group'),
    # paper Tables 12 (IN-22K intermediate fine-tuning) and 13 (then IN-1K at 384), run with main_finetune.py
    'configs/convnextv2_base_fcmae-ft_in22k.py': _v2_ft('base', 2.5e-4, 0.05, 0.8, 'group', batch=4096),
    'configs/convnextv2_base_in22k-ft_in1k-384px.py': _v2_ft('base', 2.5e-5, 1e-8, 0.8, 'group', batch=512),
    # main_pretrain.py defaults + TRAINING.md: blr 1.5e-4 at batch 4096
    'configs/pretrain/fcmae_convnextv2_base_800e_in1k.py': (official_fcmae, fcmae_pretrain,
                                                            dict(lr=1.5e-4 * 4096 / 256, weight_decay=0.05)),
    # mmdet projects/ConvNeXt-V2 mask-rcnn_convnext-v2-b_fpn_lsj-3x-fcmae_coco.py
    'configs/mask_rcnn_convnextv2_base_coco.py': (same, mm_layer_decay, dict(
        lr=1e-4, weight_decay=0.05, decay_rate=0.95, decay_type='layer_wise', num_layers=12)),
    # ConvNeXt semantic_segmentation upernet_convnext_base_512_160k_ade20k_*.py
    'configs/upernet_convnextv2_base_ade20k.py': (same, mm_layer_decay, dict(
        lr=1e-4, weight_decay=0.05, decay_rate=0.9, decay_type='stage_wise', num_layers=12)),
    # mmdet convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py (num_layers 6 = 3 + 9 / 3 block groups
    # of ConvNeXt-T's stage 2; Conv2Former-T's 12 blocks make 3 + 12 / 3 = 7)
    'configs/mask_rcnn_conv2former_tiny_coco_3x.py': (same, mm_layer_decay, dict(
        lr=1e-4, weight_decay=0.05, decay_rate=0.95, decay_type='layer_wise', num_layers=7)),
    # mmseg convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py
    'configs/upernet_conv2former_tiny_ade20k.py': (same, mm_layer_decay, dict(
        lr=1e-4, weight_decay=0.05, decay_rate=0.9, decay_type='stage_wise', num_layers=6)),
    # Conv2Former train.sh: lr 1e-3 at batch 1024, wd 0.05 (train.py default)
    'configs/conv2former_nano_in1k.py': _timm(),
    'configs/conv2former_tiny_in1k.py': _timm(),
    'configs/conv2former_small_in1k.py': _timm(),
    'configs/conv2former_base_in1k.py': _timm(),
    'configs/conv2former_large_in1k.py': _timm(),
}


def entry_configs():
    patterns = ('configs/*convnextv2*.py', 'configs/*conv2former*.py', 'configs/pretrain/fcmae_*.py')
    return sorted(str(p.relative_to(ROOT)) for pattern in patterns for p in ROOT.glob(pattern))


def test_every_convnet_entry_config_has_a_recipe():
    assert set(entry_configs()) == set(RECIPES)


@functools.lru_cache(maxsize=None)
def build(config: str):
    """(cfg, model) of an entry config, the model on the meta device (no memory) and without its random init
    (which is slow on meta and does not change the parameters' names or shapes)."""
    with pytest.MonkeyPatch.context() as mp:
        for cls in (ConvNeXtV2, Conv2Former):
            mp.setattr(cls, '_init_module', staticmethod(lambda m: None))
        with torch.device('meta'):
            return load_model(str(ROOT / config))


def built_lr_and_wd(config: str, paramwise=None):
    """{name: (lr, weight_decay, shape)} of every trainable parameter, from the config's model and constructor
    (``paramwise`` replaces the config's ``paramwise_cfg``)."""
    cfg, model = build(config)
    ow = copy.deepcopy(cfg.optim_wrapper)
    ctor_type = ow.pop('constructor', 'DefaultOptimWrapperConstructor')
    paramwise = ow.pop('paramwise_cfg', None) if paramwise is None else paramwise
    # the param groups are the constructor's; the wrapper type (AMP needs a GPU) does not change them
    ow = dict(type='OptimWrapper', optimizer=ow['optimizer'])
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(type=ctor_type, optim_wrapper_cfg=ow, paramwise_cfg=paramwise))
        optimizer = ctor(model).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    table = {}
    for group in optimizer.param_groups:
        for p in group['params']:
            table[names[id(p)]] = (group['lr'], group['weight_decay'], tuple(p.shape))
    assert len(table) == sum(1 for p in model.parameters() if p.requires_grad)
    return table


def compare(config: str, paramwise=None):
    """Lines naming every parameter whose lr or weight decay differs from the official recipe."""
    to_official, official, recipe = RECIPES[config]
    bad = []
    for name, (lr, wd, shape) in built_lr_and_wd(config, paramwise).items():
        off_name, off_shape = to_official(name, shape)
        want_lr, want_wd = official(off_name, off_shape, **recipe)
        if not (math.isclose(lr, want_lr, rel_tol=1e-6) and math.isclose(wd, want_wd, abs_tol=1e-12)):
            bad.append(f'{name} (official {off_name}): lr {lr:.6g} (x{lr / recipe["lr"]:.4f}), wd {wd:g}; '
                       f'official lr {want_lr:.6g} (x{want_lr / recipe["lr"]:.4f}), wd {want_wd:g}')
    return bad


@pytest.mark.parametrize('config', sorted(RECIPES))
def test_every_parameter_follows_the_official_recipe(config):
    bad = compare(config)
    assert not bad, f'{config}: {len(bad)} parameters differ from the official recipe:\n' + '\n'.join(bad[:12])


def test_a_changed_rate_scheme_or_exemption_is_caught():
    """The comparison fails when a config changes the layer-decay rate or scheme, or decays what is exempt."""
    config = 'configs/upernet_convnextv2_base_ade20k.py'
    assert not compare(config)
    for paramwise in (dict(layer_decay_rate=0.8, decay_type='per_stage', num_layers=12),
                      dict(layer_decay_rate=0.9, decay_type='stage_wise'),
                      dict(layer_decay_rate=0.9, decay_type='per_stage', num_layers=12, bias_decay_mult=1.0)):
        assert compare(config, paramwise), paramwise


def test_upernet_tta_is_the_convnext_aug_test():
    """ConvNeXt's README tests its UperNets with BEiT's ``--aug-test``: ratios 0.5..1.75 of the test scale, and flip
    (mmseg 0.x ``tools/test.py``); the ConvNeXt V2 and Conv2Former UperNets inherit mmseg's ADE20K tta_pipeline."""
    for config in ('configs/upernet_convnextv2_base_ade20k.py', 'configs/upernet_conv2former_tiny_ade20k.py'):
        cfg, _ = build(config)
        tta = next(t for t in cfg.tta_pipeline if t['type'] == 'TestTimeAug')['transforms']
        assert [t['scale_factor'] for t in tta[0]] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75], config
        assert all(t['keep_ratio'] for t in tta[0])
        assert sorted(t['prob'] for t in tta[1]) == [0., 1.], config
        assert cfg.tta_model['type'] == 'SegTTAModel'
        test_resize = next(t for t in cfg.test_pipeline if t['type'] == 'Resize')
        assert tuple(test_resize['scale']) == (2048, 512)
