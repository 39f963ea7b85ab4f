"""Behaviour shared by every mmconvmae backbone and neck."""
import copy
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from .checkpoint import StateDict, load_pretrained

NORM_TYPES = (_BatchNorm, nn.GroupNorm, nn.LayerNorm)


def resolve_arch(arch, arch_zoo: Dict[str, dict], required: Sequence[str], name: str) -> dict:
    """Returns the arch dict for ``arch`` (a name of ``arch_zoo`` or a custom dict), with clear errors."""
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(f'Unknown {name} arch {arch!r}; choose one of {sorted(arch_zoo)} '
                             f'or pass a dict with keys {list(required)}')
        return copy.deepcopy(arch_zoo[key])
    if not isinstance(arch, dict):
        raise TypeError(f'{name} arch must be a str or a dict, got {type(arch).__name__}')
    missing = [k for k in required if k not in arch]
    if missing:
        raise ValueError(f'Custom {name} arch is missing keys {missing}; it needs {list(required)}')
    return copy.deepcopy(arch)


def normalize_indices(indices, num: int, what: str = 'out_indices') -> Tuple[int, ...]:
    """Turns an int / sequence of ints (negative allowed) into sorted non-negative indices in [0, num)."""
    if isinstance(indices, int):
        indices = [indices]
    out = []
    for i in indices:
        if not isinstance(i, int) or not -num <= i < num:
            raise ValueError(f'{what} must be integers in [{-num}, {num - 1}] ({num} available), got {i!r}')
        out.append(i % num)
    return tuple(sorted(set(out)))


def drop_path_rates(drop_path_rate: float, num_blocks: int) -> List[float]:
    """Stochastic-depth rates increasing linearly from 0 to ``drop_path_rate`` over ``num_blocks`` blocks
    (``torch.linspace`` in plain Python, so models can be built on the meta device)."""
    if num_blocks <= 1:
        return [0.0] * num_blocks
    return [drop_path_rate * i / (num_blocks - 1) for i in range(num_blocks)]


#: what a backbone outputs: multi-scale maps, or the pooled classification vector
OUT_TYPES = ('featmap', 'avg_featmap')


def deprecated_option(owner: str, old: str, value, new: str, new_value):
    """Warns (``DeprecationWarning``) that ``owner(old=value)`` is now spelled ``new=new_value``; returns
    ``new_value``."""
    warnings.warn(f'{owner}({old}={value!r}) is deprecated: use {new}={new_value!r}', DeprecationWarning,
                  stacklevel=3)
    return new_value


def resolve_out_type(owner: str, out_type: str, **aliases) -> str:
    """Checks ``out_type`` (:data:`OUT_TYPES`). A deprecated boolean alias that is not None (``gap_before_final_norm``
    of ConvNeXtV2 / ConvMAE, ``with_head`` of Conv2Former: True = ``'avg_featmap'``) overrides it with a warning."""
    for old, value in aliases.items():
        if value is not None:
            out_type = deprecated_option(owner, old, value, 'out_type', 'avg_featmap' if value else 'featmap')
    if out_type not in OUT_TYPES:
        raise ValueError(f"{owner} out_type must be 'featmap' (maps of out_indices) or 'avg_featmap' "
                         f'(classification vector), got {out_type!r}')
    return out_type


class PretrainedModule(BaseModule):
    """Base of every mmconvmae backbone and neck: pretrained loading with key conversion and the layer-depth API
    used by :class:`LayerDecayOptimWrapperConstructor`.

    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=None, min_loaded=1.0)`` is handled by
    :func:`load_pretrained`: weights are first initialised as usual, then the checkpoint is loaded over them,
    the missing/unexpected keys are logged, a shape mismatch raises naming the key, and a checkpoint that leaves
    more than ``1 - min_loaded`` of the tensors outside ``expected_missing_keys`` missing raises naming the file,
    the family it looks like and the prefix to use. Subclasses implement ``get_layer_depth()`` and, to read
    official checkpoints, ``adapt_pretrained(state_dict)`` (official names/shapes -> ours; must be a no-op on our
    own keys).
    """

    #: substrings of parameter names that get no weight decay (besides 1-D params and biases)
    no_weight_decay_keywords: Tuple[str, ...] = ()
    #: the family name :func:`describe_checkpoint` gives to checkpoints this module reads
    checkpoint_family: Optional[str] = None
    #: regexes (``re.match``) of state-dict keys a pretrained checkpoint may leave missing: parameters that the
    #: downstream layouts add (created new in the official code too); documented per family in docs/
    expected_missing_keys: Tuple[str, ...] = ()

    def init_weights(self):
        cfg = copy.deepcopy(self.init_cfg)
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.init_cfg = None
            super().init_weights()
            self.init_cfg = cfg
            load_pretrained(self, cfg['checkpoint'], prefix=cfg.get('prefix'),
                            map_location=cfg.get('map_location', 'cpu'), min_loaded=cfg.get('min_loaded', 1.0))
            self._is_init = True
        else:
            super().init_weights()

    def adapt_pretrained(self, state_dict: StateDict) -> StateDict:
        return state_dict

    def get_layer_depth(self, param_name: str, prefix: str = '', decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """Returns ``(layer_id, num_layers)`` of a parameter name.

        ``prefix`` (e.g. ``'backbone.'``, as mmpretrain's ``ImageClassifier.get_layer_depth`` passes it) is
        stripped when present; a name without it belongs to another module (a head) and gets the top id.
        The learning rate of the parameter is scaled by ``rate ** (num_layers - 1 - layer_id)``; parameters
        that belong to no block (e.g. output norms) get ``num_layers - 1``.
        """
        raise NotImplementedError(f'{type(self).__name__} does not support layer-wise lr decay')


class BaseBackbone(PretrainedModule):
    """Base class of the backbones: :class:`PretrainedModule` plus input checks, ``frozen_stages`` and
    ``norm_eval``. Subclasses implement ``_freeze_stages()``."""

    def __init__(self, norm_eval: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.norm_eval = norm_eval

    def check_input(self, x) -> None:
        """Raises a clear error unless ``x`` is (N, C, H, W) with H and W multiples of ``self.stride``; returns
        None (every backbone's ``check_input`` only validates)."""
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__} expects (N, C, H, W) input, got shape {tuple(x.shape)}')
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(f'{type(self).__name__} needs H and W divisible by its total stride {self.stride}, '
                             f'got {h}x{w}; pad the input (e.g. data_preprocessor pad_size_divisor={self.stride})')

    def _freeze_stages(self):
        pass

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    @staticmethod
    def _freeze(*modules: Optional[nn.Module]):
        for m in modules:
            if m is None:
                continue
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
