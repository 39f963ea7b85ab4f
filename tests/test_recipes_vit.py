"""Every iTPN / ConvMAE entry config trains each parameter at the official learning-rate scale and weight decay.

Each case builds the model (meta device) and the optimizer wrapper from the config, then compares every trainable
parameter with an independent transcription of the official constructor of the recipe the config cites, written
below on the official parameter names (ours are mapped to those first). Official sources:

- iTPN (github.com/sunsmarterjie/iTPN): ``det/mmcv_custom/layer_decay_optimizer_constructor.py``,
  ``seg/mmcv_custom/itpn_layer_decay_optimizer_constructor.py``, ``itpn_pixel/util/lr_decay.py`` (=
  ``itpn_clip/utils/lr_decay.py``), ``itpn_pixel/main_pretrain.py`` (timm ``add_weight_decay``),
  ``itpn_clip/optim_factory.py`` (``create_optimizer`` / ``get_parameter_groups``).
- ConvMAE (github.com/Alpha-VL/ConvMAE): ``DET/configs/convmae/convmae_base_mask_rcnn_FPN_100ep.py`` (detectron2
  ``get_default_optimizer_params``), ``SEG/mmcv_custom/layer_decay_optimizer_constructor.py``, ``util/lr_decay.py``,
  ``main_pretrain.py`` (timm ``add_weight_decay``).
"""
import copy
import math
from functools import partial

import pytest
import torch
import torch.nn as nn
from helpers import ROOT
from mmengine.registry import DefaultScope

from mmconvmae.analysis import load_model
from mmconvmae.models.backbones.hivit import PatchMerge


# ---- the official constructors, transcribed on the official parameter names ------------------------------------
def beit_constructor(name, ndim, *, num_layers, layer_decay_rate, weight_decay, no_decay, zero_names, zero_prefixes,
                     block_prefix, rescale=False):
    """BEiT's ``LayerDecayOptimizerConstructor.add_params`` + ``get_num_layer_for_vit``, which the official iTPN det,
    iTPN seg and ConvMAE SEG constructors copy; they differ only in the name lists bound below."""
    num_layers = num_layers + 2
    if ndim == 1 or name.endswith('.bias') or no_decay(name):
        this_weight_decay = 0.
    else:
        this_weight_decay = weight_decay
    if name in zero_names or name.startswith(zero_prefixes):
        layer_id = 0
    elif name.startswith(block_prefix):
        layer_id = int(name.split('.')[2]) + 1
    else:
        layer_id = num_layers - 1
    if rescale:  # iTPN seg: layer_decay = layer_decay_rate ** (13 / num_layers)
        layer_decay_rate = layer_decay_rate**(13 / num_layers)
    return layer_decay_rate**(num_layers - layer_id - 1), this_weight_decay


#: iTPN det/mmcv_custom/layer_decay_optimizer_constructor.py
itpn_det = partial(beit_constructor, no_decay=lambda n: n.endswith('_token') or n.endswith('pos_embed'),
                   zero_names=('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed'),
                   zero_prefixes=('backbone.patch_embed', ), block_prefix='backbone.blocks')
#: iTPN seg/mmcv_custom/itpn_layer_decay_optimizer_constructor.py
itpn_seg = partial(beit_constructor, no_decay=lambda n: n in ('absolute_pos_embed', 'cls_token'),
                   zero_names=('backbone.cls_token', 'backbone.mask_token', 'backbone.absolute_pos_embed'),
                   zero_prefixes=('backbone.patch_embed', ), block_prefix='backbone.blocks', rescale=True)
#: ConvMAE SEG/mmcv_custom/layer_decay_optimizer_constructor.py
convmae_seg = partial(beit_constructor, no_decay=lambda n: n in ('pos_embed', 'cls_token'),
                      zero_names=('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed'),
                      zero_prefixes=('backbone.patch_embed', 'backbone.blocks1', 'backbone.blocks2'),
                      block_prefix='backbone.blocks3')


def itpn_finetune(name, ndim, *, main_block, layer_decay, weight_decay, no_weight_decay_list=('absolute_pos_embed', )):
    """iTPN ``util/lr_decay.py``: ``param_groups_lrd`` + ``get_layer_id`` (``main_block``: indices of the entries of
    ``model.blocks`` that are not PatchEmbed / PatchMerge; ``no_weight_decay_list``: ``model.no_weight_decay()``)."""
    num_layers = len(main_block) + 1
    layer_decay = layer_decay**(13 / num_layers)
    layer_scales = list(layer_decay**(num_layers - i) for i in range(num_layers + 1))
    if ndim == 1 or name in no_weight_decay_list or name.endswith('.relative_position_bias_table'):
        this_decay = 0.
    else:
        this_decay = weight_decay
    if '0' <= name[0] <= '9':
        name = name[2:]
    if name in ['cls_token', 'pos_embed', 'absolute_pos_embed']:
        layer_id = 0
    elif name.startswith('patch_embed'):
        layer_id = 0
    elif name.startswith('blocks'):
        i = int(name.split('.')[1])
        layer_id = 0
        while i >= 0:
            if i in main_block:
                layer_id = main_block.index(i) + 1
                break
            i = i - 1
    else:
        layer_id = num_layers
    return layer_scales[layer_id], this_decay


def timm_add_weight_decay(name, ndim, *, weight_decay, skip_list=()):
    """timm ``optim_factory.add_weight_decay`` (iTPN pixel / ConvMAE pretraining): no layer decay."""
    if ndim == 1 or name.endswith('.bias') or name in skip_list:
        return 1.0, 0.
    return 1.0, weight_decay


def convmae_finetune(name, ndim, *, num_blocks3, layer_decay, weight_decay,
                     no_weight_decay_list=('pos_embed', 'cls_token')):
    """ConvMAE ``util/lr_decay.py``: ``param_groups_lrd`` + ``get_layer_id_for_vit``."""
    num_layers = num_blocks3 + 1
    layer_scales = list(layer_decay**(num_layers - i) for i in range(num_layers + 1))
    this_decay = 0. if ndim == 1 or name in no_weight_decay_list else weight_decay
    if name in ['cls_token', 'pos_embed']:
        layer_id = 0
    elif name.startswith(('patch_embed', 'blocks1', 'blocks2')):
        layer_id = 0
    elif name.startswith('blocks3'):
        layer_id = int(name.split('.')[1]) + 1
    else:
        layer_id = num_layers
    return layer_scales[layer_id], this_decay


#: detectron2 ``solver/build.py`` ``get_default_optimizer_params``: ``norm_module_types``
D2_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm, nn.InstanceNorm1d,
                 nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm, nn.LocalResponseNorm)


def detectron2_params(module_param_name, module, *, weight_decay, weight_decay_norm, overrides,
                      weight_decay_bias=None):
    """detectron2 ``get_default_optimizer_params`` for one parameter (its module and local name)."""
    overrides = copy.deepcopy(overrides)
    if weight_decay_bias is not None:
        overrides['bias'] = dict(weight_decay=weight_decay_bias)
    hyperparams = dict(lr=1.0, weight_decay=weight_decay)
    if isinstance(module, D2_NORM_TYPES) and weight_decay_norm is not None:
        hyperparams['weight_decay'] = weight_decay_norm
    hyperparams.update(overrides.get(module_param_name, {}))
    return hyperparams['lr'], hyperparams['weight_decay']


# ---- our names -> official names --------------------------------------------------------------------------------
def pyramid_in_backbone(name):
    """Official det / seg iTPN backbones hold the pyramid (`neck=None`); heads keep their mmdet / mmseg names."""
    return 'backbone.' + name[len('neck.'):] if name.startswith('neck.') else name


def classifier(name):
    """Official fine-tuning models: the backbone's names at the top, the linear head as ``head``."""
    if name.startswith('backbone.'):
        return name[len('backbone.'):]
    return name.replace('head.fc.', 'head.')


def flat_model(name):
    """Official pretraining models hold backbone, pyramid and heads in one module."""
    return name.split('.', 1)[1]


def identity(name):
    return name


# ---- cases: the official constructor of each config, its arguments, our -> official names, base lr ----------------
def case(rule, names, lr, **args):
    return dict(rule=rule, names=names, lr=lr, args=args)


def itpn_det_case(num_layers, rate, lr):
    return case(itpn_det, pyramid_in_backbone, lr, num_layers=num_layers, layer_decay_rate=rate, weight_decay=0.05)


def itpn_seg_case(num_layers, rate):
    return case(itpn_seg, pyramid_in_backbone, 3e-5, num_layers=num_layers, layer_decay_rate=rate, weight_decay=0.05)


CASES = {
    # det/configs/itpn/pixel_itpn_base_1x_ld090_dp005.py
    'configs/mask_rcnn_itpn_base_coco_1x.py': itpn_det_case(30, 0.9, 2e-4),
    # det/configs/itpn/clip_itpn_base_3x_ld090_dp030.py (and pixel_itpn_base_3x_ld090_dp030.py)
    'configs/mask_rcnn_itpn_base_coco_3x.py': itpn_det_case(30, 0.9, 1.5e-4),
    'configs/mask_rcnn_itpn_clip_base_coco_3x.py': itpn_det_case(30, 0.9, 1.5e-4),
    # det/configs/itpn/cascade_pixel_itpn_base_3x.py, cascade_CLIP_itpn_base_3x.py
    'configs/cascade_mask_rcnn_itpn_base_coco_3x.py': itpn_det_case(30, 0.9, 1e-4),
    'configs/cascade_mask_rcnn_itpn_clip_base_coco_3x.py': itpn_det_case(30, 0.9, 1e-4),
    # det/configs/itpn/clip_itpn_large_1x_ld095_dp020.py
    'configs/mask_rcnn_itpn_clip_large_coco_1x.py': itpn_det_case(44, 0.95, 2e-4),
    # seg/configs/itpn/{pixel,clip}_upernet_itpn_{base,large}_12_512_slide_160k_ade20k_pt2ft.py
    'configs/upernet_itpn_base_ade20k.py': itpn_seg_case(30, 0.9),
    'configs/upernet_itpn_clip_base_ade20k.py': itpn_seg_case(44, 0.9),
    'configs/upernet_itpn_clip_large_ade20k.py': itpn_seg_case(44, 0.95),
    # itpn_pixel/FINETUNE.md (blr 4e-4 x 1024 / 256); itpn_clip/README.md fine-tuning commands (lr given directly)
    'configs/itpn_base_ft_in1k.py': case(itpn_finetune, classifier, 4e-4 * 1024 / 256, layer_decay=0.6,
                                         weight_decay=0.05),
    'configs/itpn_clip_base_ft_in1k.py': case(itpn_finetune, classifier, 5e-4, layer_decay=0.6, weight_decay=0.05),
    'configs/itpn_clip_large_ft_in1k.py': case(itpn_finetune, classifier, 2e-4, layer_decay=0.55, weight_decay=0.05),
    # itpn_pixel/main_pretrain.py: add_weight_decay(model, wd); itpn_clip: create_optimizer, skip = no_weight_decay()
    'configs/pretrain/itpn_pixel_base_1600e_in1k.py': case(timm_add_weight_decay, flat_model, 1.5e-4 * 4096 / 256,
                                                           weight_decay=0.05),
    'configs/pretrain/itpn_clip_base_300e_in1k.py': case(timm_add_weight_decay, flat_model, 1.5e-3, weight_decay=0.05,
                                                         skip_list=('absolute_pos_embed', )),
    # ConvMAE DET / SEG / fine-tuning / pretraining
    'configs/mask_rcnn_convmae_base_coco.py': case(
        detectron2_params, identity, 8e-5, weight_decay=0.1, weight_decay_norm=0.0,
        overrides={'pos_embed': {'weight_decay': 0.0}, 'relative_position_bias_table': {'weight_decay': 0.0}}),
    'configs/upernet_convmae_base_ade20k.py': case(convmae_seg, identity, 1e-4, num_layers=11, layer_decay_rate=0.75,
                                                   weight_decay=0.05),
    'configs/convmae_base_ft_in1k.py': case(convmae_finetune, classifier, 5e-4 * 1024 / 256, layer_decay=0.65,
                                            weight_decay=0.05),
    'configs/pretrain/convmae_base_1600e_in1k.py': case(timm_add_weight_decay, flat_model, 1.5e-4 * 3072 / 256,
                                                        weight_decay=0.05),
}


def entry_configs():
    """configs/*itpn*, configs/*convmae* (the ViTDet-style ConvMAE configs have their own recipe test) and the
    iTPN / ConvMAE pretraining configs."""
    found = set()
    for pattern in ('configs/*itpn*.py', 'configs/*convmae*.py', 'configs/pretrain/itpn_*.py',
                    'configs/pretrain/convmae_*.py'):
        found.update(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern) if 'vitdet' not in p.name)
    return found


def test_every_itpn_and_convmae_entry_config_has_a_recipe_case():
    assert entry_configs() == set(CASES)


def build_recipe(config):
    """The model of ``config`` (meta device) and ``{name: (lr / base lr, weight decay)}`` of its trainable
    parameters, from the optimizer that the config's optim_wrapper builds."""
    from mmengine.optim import build_optim_wrapper
    with torch.device('meta'):
        cfg, model = load_model(str(ROOT / config))
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg['type'] = 'OptimWrapper'  # AMP is not what is tested here
    optim_cfg.pop('loss_scale', None)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        wrapper = build_optim_wrapper(model, optim_cfg)
    base_lr = optim_cfg['optimizer']['lr']
    name_of = {id(p): n for n, p in model.named_parameters()}
    got = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            if p.requires_grad:
                got[name_of[id(p)]] = (group['lr'] / base_lr, group['weight_decay'])
    return cfg, model, got


def official_recipe(config, model):
    """``{our name: (lr scale, weight decay)}`` that the official constructor of ``config`` gives."""
    c = CASES[config]
    rule, args = c['rule'], dict(c['args'])
    if rule is itpn_finetune:  # the official model's `blocks` has the same entries (PatchMerge included)
        args['main_block'] = [i for i, blk in enumerate(model.backbone.blocks) if not isinstance(blk, PatchMerge)]
    elif rule is convmae_finetune:
        args['num_blocks3'] = len(model.backbone.blocks3)
    expected = {}
    for mod_name, module in model.named_modules():
        for local, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            name = f'{mod_name}.{local}' if mod_name else local
            if rule is detectron2_params:  # by module type and local name, as detectron2
                expected[name] = rule(local, module, **args)
            else:
                expected[name] = rule(c['names'](name), p.ndim, **args)
    return expected


def mismatches(got, expected):
    bad = []
    for name in sorted(set(got) | set(expected)):
        if name not in got or name not in expected:
            bad.append(f'{name}: ours {got.get(name)}, official {expected.get(name)}')
            continue
        (lr_g, wd_g), (lr_e, wd_e) = got[name], expected[name]
        if not (math.isclose(lr_g, lr_e, rel_tol=1e-9) and math.isclose(wd_g, wd_e, rel_tol=1e-9, abs_tol=1e-12)):
            bad.append(f'{name}: ours lr x{lr_g:.6g} wd {wd_g:g}, official lr x{lr_e:.6g} wd {wd_e:g}')
    return bad


@pytest.mark.parametrize('config', sorted(CASES))
def test_recipe_matches_the_official_constructor(config):
    cfg, model, got = build_recipe(config)
    opt, c = cfg.optim_wrapper['optimizer'], CASES[config]
    assert (opt['lr'], opt['weight_decay']) == (pytest.approx(c['lr']), c['args']['weight_decay'])
    bad = mismatches(got, official_recipe(config, model))
    assert not bad, f'{len(bad)} of {len(got)} parameters differ from the official recipe:\n' + '\n'.join(bad[:20])


# ---- mmpretrain's own layer-decay constructor on our backbones -------------------------------------------------
@pytest.mark.parametrize('backbone', [
    dict(type='mmconvmae.HiViT', arch=dict(embed_dims=64, depths=[1, 1, 2], num_heads=2), img_size=64,
         out_type='avg_featmap'),
    dict(type='mmconvmae.ConvMAE', arch=dict(embed_dims=[32, 64, 128], depths=[1, 1, 4], num_heads=4), img_size=64,
         out_indices=2, out_type='avg_featmap'),
])
def test_mmpretrain_layer_decay_constructor_runs_on_our_backbones(backbone):
    """mmpretrain's ``ImageClassifier.get_layer_depth`` calls ``backbone.get_layer_depth(name, 'backbone.')``:
    its ``LearningRateDecayOptimWrapperConstructor`` gives the same per-parameter lr scales as ours."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(dict(type='ImageClassifier', backbone=backbone,
                                  head=dict(type='LinearClsHead', num_classes=3, in_channels=64
                                            if 'HiViT' in backbone['type'] else 128)))
        optimizer = dict(type='AdamW', lr=1.0, weight_decay=0.05)
        theirs = build_optim_wrapper(model, dict(optimizer=optimizer, paramwise_cfg=dict(layer_decay_rate=0.9),
                                                 constructor='LearningRateDecayOptimWrapperConstructor'))
        ours = build_optim_wrapper(model, dict(optimizer=optimizer, paramwise_cfg=dict(layer_decay_rate=0.9),
                                               constructor='mmconvmae.LayerDecayOptimWrapperConstructor'))
    name_of = {id(p): n for n, p in model.named_parameters()}

    def scales(wrapper):
        return {name_of[id(p)]: g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}

    got, want = scales(theirs), scales(ours)
    assert got.keys() == want.keys()
    assert all(got[n] == pytest.approx(want[n]) for n in got), {n: (got[n], want[n]) for n in got if got[n] != want[n]}
    assert got['head.fc.weight'] == pytest.approx(1.0)
    assert len({v for n, v in got.items() if n.startswith('backbone.')}) > 3  # not one flat lr


# ---- the pieces the recipes use ----------------------------------------------------------------------------------
def test_hivit_layer_id_schemes():
    from mmconvmae.models.backbones.hivit import HiViT
    arch = dict(embed_dims=64, depths=[1, 1, 2], num_heads=2)  # blocks: 0 mlp, 1 merge, 2 mlp, 3 merge, 4-5 main
    every = HiViT(arch, img_size=64)
    skip = HiViT(arch, img_size=64, layer_id_scheme='skip_merges')
    assert [every.get_layer_depth(f'blocks.{i}.x')[0] for i in range(6)] == [1, 2, 3, 4, 5, 6]
    assert [skip.get_layer_depth(f'blocks.{i}.x')[0] for i in range(6)] == [1, 1, 2, 2, 3, 4]
    assert every.get_layer_depth('patch_embed.proj.weight') == (0, 8) and skip.get_layer_depth('fc_norm.w') == (5, 6)
    assert every.get_layer_depth('backbone.blocks.5.x', 'backbone.') == (6, 8)
    assert every.get_layer_depth('head.fc.weight', 'backbone.') == (7, 8)
    with pytest.raises(ValueError, match='layer_id_scheme'):
        HiViT(arch, img_size=64, layer_id_scheme='main_blocks')
    with pytest.raises(ValueError, match='layer_wise'):
        every.get_layer_depth('blocks.0.x', decay_type='stage_wise')


def _groups(model, **paramwise):
    from mmconvmae.engine.optimizers.layer_decay import LayerDecayOptimWrapperConstructor
    constructor = LayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1., weight_decay=0.1)), paramwise)
    groups = []
    constructor.add_params(groups, model)
    return {n: (g['lr_scale'], g['weight_decay']) for g in groups for n in g['param_names']}


def test_constructor_options_for_official_quirks():
    from mmconvmae.models.backbones.hivit import HiViT
    model = nn.Module()
    model.backbone = HiViT(dict(embed_dims=64, depths=[1, 1, 2], num_heads=2), img_size=64)
    model.neck = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
    plain = _groups(model, layer_decay_rate=0.5)
    assert plain['backbone.blocks.5.attn.qkv.weight'][0] == 0.5  # 8 ids, block 5 -> id 6
    assert plain['backbone.absolute_pos_embed'] == (0.5**7, 0.)
    # the official count: num_layers 4 (+ 2) on 6 entries -> block 5 at 0.5^(4 - 5), heads at 1
    quirk = _groups(model, layer_decay_rate=0.5, num_layers=4, top_layer_keys=['absolute_pos_embed'],
                    no_decay_keywords=(), norm_decay_mult=0.0, bias_decay_mult=1.0)
    assert quirk['backbone.blocks.5.attn.qkv.weight'] == (2.0, 0.1)
    assert quirk['backbone.patch_embed.proj.weight'][0] == 0.5**5 and quirk['neck.0.weight'][0] == 1.0
    assert quirk['backbone.absolute_pos_embed'] == (1.0, 0.1)  # full lr (top id) and decayed
    assert quirk['neck.0.bias'][1] == 0.1 and quirk['neck.1.bias'][1] == 0. and quirk['neck.1.weight'][1] == 0.
    assert quirk['backbone.blocks.5.norm1.bias'][1] == 0.  # LayerNorm: norm rule before the bias rule
    with pytest.raises(TypeError, match='top_layer_keys'):
        _groups(model, top_layer_keys='absolute_pos_embed')
    with pytest.raises(ValueError, match='num_layers'):
        _groups(model, num_layers=0)


def test_itpn_clip_pretraining_data_follows_itpn_clip():
    """itpn_clip/datasets.py + transforms.py + run_itpn_pretraining.py defaults: one crop (scale 0.08-1) resized
    bicubically for the student and with Lanczos for the teacher; student normalised with Inception 0.5 / 0.5; the
    teacher's ToTensor() output through the official ScalingLayerForClip; no gradient clipping."""
    import numpy as np
    from mmengine.config import Config
    from mmpretrain.registry import MODELS, TRANSFORMS
    cfg = Config.fromfile(ROOT / 'configs/pretrain/itpn_clip_base_300e_in1k.py')
    assert 'clip_grad' not in cfg.optim_wrapper
    crop = next(t for t in cfg.train_dataloader.dataset.pipeline
                if t.type == 'RandomResizedCropAndInterpolationWithTwoPic')
    assert (tuple(crop.scale), crop.interpolation, crop.second_interpolation) == ((0.08, 1.0), 'bicubic', 'lanczos')
    transform = TRANSFORMS.build(crop.to_dict())
    out = transform(dict(img=np.random.RandomState(0).randint(0, 256, (97, 131, 3), dtype=np.uint8)))
    assert [im.shape for im in out['img']] == [(224, 224, 3), (224, 224, 3)]

    preprocessor = MODELS.build(cfg.data_preprocessor.to_dict())
    rgb = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    data = dict(inputs=[rgb.flip(1), rgb.flip(1)], data_samples=None)  # (student, teacher) views, BGR as loaded
    student, teacher = preprocessor(data)['inputs']
    x = rgb.float() / 255.  # torchvision ToTensor()
    torch.testing.assert_close(student, (x - 0.5) / 0.5)  # Normalize(IMAGENET_INCEPTION_MEAN / STD)
    shift = torch.tensor([0.48145466, 0.4578275, 0.40821073])[None, :, None, None]
    scale = torch.tensor([0.26862954, 0.26130258, 0.27577711])[None, :, None, None]
    official = (((x + 1.) * 127.5).clamp(0, 255.) / 255. - shift) / scale  # ScalingLayerForClip.forward
    torch.testing.assert_close(teacher, official)
