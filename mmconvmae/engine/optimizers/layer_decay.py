"""Layer-wise learning-rate decay for every mmconvmae backbone, in mmdet, mmseg and mmpretrain."""
import logging
from collections import OrderedDict
from typing import List

import torch.nn as nn
from mmengine.logging import print_log
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm
from mmengine.optim import DefaultOptimWrapperConstructor

from mmconvmae.registry import OPTIM_WRAPPER_CONSTRUCTORS
from ..fsdp import clean_param_name, original_shapes

DECAY_TYPES = ('layer_wise', 'stage_wise', 'per_stage')
#: parameter-name substrings that never get weight decay, whatever the backbone
DEFAULT_NO_DECAY_KEYWORDS = ('pos_embed', 'cls_token', 'mask_token', 'relative_position_bias_table',
                             'rel_pos_h', 'rel_pos_w')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scales the lr of each parameter by ``layer_decay_rate ** (num_layers - 1 - layer_id)``.

    ``layer_id`` and ``num_layers`` come from ``get_layer_depth(name, decay_type)`` of each top-level child
    of the model that has it (the ``backbone``, and a pretrained ``neck`` that declares depths); every other
    parameter (necks, heads) gets ``layer_id = num_layers - 1``, i.e. the full lr.

    Weight decay is 0 for 1-D parameters (norms, biases, GRN gamma/beta, layer scales), for ``.bias`` and for
    names containing a ``no_weight_decay_keywords`` entry of the backbone or one of
    ``DEFAULT_NO_DECAY_KEYWORDS`` (position embeddings, cls/mask tokens, relative position tables).

    ``paramwise_cfg`` keys:
        - ``layer_decay_rate`` (float, default 1.0)
        - ``decay_type``: ``'layer_wise'`` (one id per block) or ``'stage_wise'`` (the official "group"
          scheme: blocks grouped, e.g. 12 groups for ConvNeXt 3-3-27-3). Default ``'layer_wise'``.
          ConvNets also take ``'per_stage'`` (ConvNeXt's and mmseg's segmentation ``stage_wise``: downsampling
          layers 0, stage s s + 1, the rest the top id).
        - ``num_layers`` (int, optional): the ``num_layers`` of the official / mmdet / mmseg constructors, which
          reserve ids ``0 .. num_layers + 1``: the backbone's top id (heads, output norms) becomes
          ``num_layers + 1`` and every other parameter keeps its id, so its scale is
          ``layer_decay_rate ** (num_layers + 1 - layer_id)`` whatever the model's depth (e.g. ConvNeXt-B's
          UperNet recipe ``per_stage`` with ``num_layers=12``: stage s at 0.9 ** (12 - s)).
        - ``flat_decay_mult`` / ``bias_decay_mult`` / ``no_decay_mult`` (default 0.0): weight-decay factors
          for 1-D params, biases and keyword params.
        - ``custom_keys``: ``{substring: dict(lr_mult=..., decay_mult=...)}``, applied on top (the longest
          matching key wins).

    Options that reproduce official constructors exactly (each off by default):
        - ``top_layer_keys``: names containing one of these get the top id (scale 1.0), as parameters an
          official constructor leaves out of its id-0 list (iTPN det: ``absolute_pos_embed``).
        - ``no_decay_keywords``: replaces the keyword exemption list (``DEFAULT_NO_DECAY_KEYWORDS`` plus the
          backbone's ``no_weight_decay_keywords``); ``()`` exempts only 1-D parameters and biases, as the official
          seg constructors whose name lists never match (iTPN / ConvMAE ``pos_embed`` and tables decayed).
        - ``norm_decay_mult``: weight-decay factor of every parameter of a norm layer (BN, SyncBN, GN, LN, IN),
          checked before the bias / 1-D rules (detectron2's ``weight_decay_norm``).

    Example::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
            constructor='mmconvmae.LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.9, decay_type='stage_wise'))
    """

    KNOWN_KEYS = ('layer_decay_rate', 'decay_type', 'num_layers', 'flat_decay_mult', 'bias_decay_mult',
                  'no_decay_mult', 'custom_keys')
    #: exact-reproduction options (see the class docstring)
    QUIRK_KEYS = ('top_layer_keys', 'no_decay_keywords', 'norm_decay_mult')

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = sorted(set(paramwise_cfg) - set(self.KNOWN_KEYS) - set(self.QUIRK_KEYS))
        if unknown:
            raise ValueError(f'Unknown paramwise_cfg keys {unknown} for LayerDecayOptimWrapperConstructor; '
                             f'allowed: {list(self.KNOWN_KEYS + self.QUIRK_KEYS)}')
        decay_type = paramwise_cfg.setdefault('decay_type', 'layer_wise')
        if decay_type not in DECAY_TYPES:
            raise ValueError(f'decay_type must be one of {DECAY_TYPES}, got {decay_type!r}')
        rate = paramwise_cfg.setdefault('layer_decay_rate', 1.0)
        if not 0 < rate <= 1:
            raise ValueError(f'layer_decay_rate must be in (0, 1], got {rate}')
        num_layers = paramwise_cfg.get('num_layers')
        if num_layers is not None and (isinstance(num_layers, bool) or not isinstance(num_layers, int)
                                       or num_layers < 1):
            raise ValueError(f'num_layers must be a positive int (the recipe\'s layer count), got {num_layers!r}')
        for key in ('top_layer_keys', 'no_decay_keywords'):
            if isinstance(paramwise_cfg.get(key, ()), str):
                raise TypeError(f'{key} must be a list of name substrings, got the string {paramwise_cfg[key]!r}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model: nn.Module):
        # FSDP keeps the unsharded shapes in its flat parameters, the root's included; mmengine's __call__ passes
        # only the wrapped module (``model.module``) on to add_params, so they are read here
        self._shapes = original_shapes(model)
        try:
            return super().__call__(model)
        finally:
            self._shapes = None

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', **kwargs) -> None:
        cfg = self.paramwise_cfg
        rate, decay_type = cfg['layer_decay_rate'], cfg['decay_type']
        base_wd = self.base_wd or 0.0
        custom_keys = cfg.get('custom_keys', {})
        sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)

        depth_modules = OrderedDict(
            (name, child) for name, child in module.named_children() if hasattr(child, 'get_layer_depth'))
        if hasattr(module, 'get_layer_depth') and not depth_modules:  # the model is a bare backbone
            depth_modules[''] = module
        if not depth_modules:
            raise TypeError(f'{type(module).__name__} has no child with get_layer_depth(); layer-wise lr decay '
                            'needs an mmconvmae backbone (or one that implements get_layer_depth)')
        no_decay_words = set(DEFAULT_NO_DECAY_KEYWORDS)
        for child in depth_modules.values():
            no_decay_words.update(getattr(child, 'no_weight_decay_keywords', ()))
        if 'no_decay_keywords' in cfg:
            no_decay_words = set(cfg['no_decay_keywords'])
        norm_params = set()
        if 'norm_decay_mult' in cfg:
            norm_types = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
            norm_params = {f'{mod_name}.{n}' if mod_name else n
                           for mod_name, mod in module.named_modules() if isinstance(mod, norm_types)
                           for n, _ in mod.named_parameters(recurse=False)}

        # under FSDP (use_orig_params=True) names carry wrapper prefixes and parameters are flat 1-D shards
        named = [(clean_param_name(name), param) for name, param in module.named_parameters()]
        shapes = getattr(self, '_shapes', None) or original_shapes(module)
        num_layers = 1
        layer_of = {}
        for name, param in named:
            for child_name, child in depth_modules.items():
                child_prefix = f'{child_name}.' if child_name else ''
                if name.startswith(child_prefix):
                    layer_of[name] = child.get_layer_depth(name[len(child_prefix):], decay_type=decay_type)
                    num_layers = max(num_layers, layer_of[name][1])
                    break
        recipe_layers = cfg.get('num_layers')
        if recipe_layers is not None:  # the recipe's count: top id -> num_layers + 1, other ids kept
            layer_of = {
                name: ((recipe_layers + 1) if layer_id == n - 1 else layer_id, recipe_layers + 2)
                for name, (layer_id, n) in layer_of.items()
            }
            num_layers = recipe_layers + 2
        top_keys = tuple(cfg.get('top_layer_keys', ()))
        for name in layer_of:
            if any(key in name for key in top_keys):
                layer_of[name] = (num_layers - 1, num_layers)

        groups = OrderedDict()
        for name, param in named:
            if not param.requires_grad:
                continue
            layer_id, n = layer_of.get(name, (num_layers - 1, num_layers))
            layer_id += num_layers - n  # align modules that report fewer layers on the top
            lr_scale = rate**(num_layers - 1 - layer_id)
            if name in norm_params:
                decay_mult = cfg['norm_decay_mult']
            elif name.endswith('.bias'):
                decay_mult = cfg.get('bias_decay_mult', 0.0)
            elif len(shapes.get(id(param), param.shape)) <= 1:
                decay_mult = cfg.get('flat_decay_mult', 0.0)
            elif any(word in name for word in no_decay_words):
                decay_mult = cfg.get('no_decay_mult', 0.0)
            else:
                decay_mult = 1.0
            lr_mult = 1.0
            key = next((k for k in sorted_keys if k in name), None)
            if key is not None:
                lr_mult = custom_keys[key].get('lr_mult', 1.0)
                decay_mult = custom_keys[key].get('decay_mult', decay_mult)
            group_key = (layer_id, lr_scale * lr_mult, base_wd * decay_mult)
            if group_key not in groups:
                groups[group_key] = dict(params=[], param_names=[], layer_id=layer_id, lr_scale=lr_scale * lr_mult,
                                         lr=self.base_lr * lr_scale * lr_mult, weight_decay=base_wd * decay_mult)
            groups[group_key]['params'].append(param)
            groups[group_key]['param_names'].append(name)

        lines = [f'Layer-wise lr decay ({decay_type}, rate {rate}, {num_layers} layers):']
        for g in groups.values():
            lines.append(f'  layer {g["layer_id"]:>3}: lr_scale {g["lr_scale"]:.4g}, weight_decay '
                         f'{g["weight_decay"]:.3g}, {len(g["params"])} params, e.g. {g["param_names"][0]}')
        print_log('\n'.join(lines), logger='current', level=logging.DEBUG)
        params.extend(groups.values())
