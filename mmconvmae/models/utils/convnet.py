"""The four-stage ConvNet skeleton shared by :class:`ConvNeXtV2` and :class:`Conv2Former`."""
from typing import Callable, Dict, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_

from .base import BaseBackbone, drop_path_rates, normalize_indices, resolve_arch
from .layers import LayerNorm2d


def convnet_stage_depth(param_name: str, prefix: str = '') -> Tuple[int, int]:
    """``per_stage`` layer ids of a 4-stage ConvNet with ``downsample_layers.i`` / ``stages.i`` children: every
    downsampling layer (the stem included) 0, stage ``s`` ``s + 1``, anything else (output norms, heads) the top
    id 5 of 6. This is ``get_num_layer_stage_wise`` of ConvNeXt's segmentation code
    (facebookresearch/ConvNeXt ``semantic_segmentation/mmcv_custom/layer_decay_optimizer_constructor.py``) and
    ``get_stage_id_for_convnext`` of mmseg's ``LearningRateDecayOptimizerConstructor``; their ``num_layers``
    (which moves the top id) is the constructor's ``num_layers`` option."""
    if not param_name.startswith(prefix):
        return 5, 6
    parts = param_name[len(prefix):].split('.')
    if parts[0] == 'downsample_layers':
        return 0, 6
    if parts[0] == 'stages':
        return int(parts[1]) + 1, 6
    return 5, 6


class ConvNetBackbone(BaseBackbone):
    """Four stages at strides 4, 8, 16, 32 under ConvNeXt's names: ``downsample_layers`` (the family's stem, then
    LayerNorm2d + 2x2 stride-2 convs), ``stages`` of blocks with stochastic depth rising linearly over all blocks,
    an output module ``norm{i}`` per ``out_indices`` entry, ``frozen_stages`` (-1 nothing, 0 the stem, k >= 1 also
    stages 0..k-1 with their downsampling layers and output norms) and the layer ids of lr decay
    (:meth:`get_layer_depth`).

    A subclass checks its options through ``super().__init__`` (which returns the arch dict), builds the body with
    :meth:`_build`, adds its output modules, initialises with :meth:`_init_weights` and implements
    :meth:`_output`; :meth:`_stage` may run a stage in another layout.
    """
    stride = 32
    arch_zoo: Dict[str, dict] = {}
    #: ``layer_wise`` id of the stem (ConvNeXt V2's official ``single`` scheme gives it the first block's id 1)
    stem_layer_id = 0

    def __init__(self, arch, arch_keys: Sequence[str], out_indices, frozen_stages: int, norm_eval: bool, init_cfg):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        name = type(self).__name__
        self.arch_settings = resolve_arch(arch, self.arch_zoo, arch_keys, name)
        self.depths, self.dims = list(self.arch_settings['depths']), list(self.arch_settings['dims'])
        if len(self.depths) != 4 or len(self.dims) != 4:
            raise ValueError(f'{name} arch needs 4 depths and 4 dims, got {self.depths} and {self.dims}')
        self.out_indices = normalize_indices(out_indices, 4)
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f'frozen_stages must be in [-1, 4], got {frozen_stages}')
        self.frozen_stages = frozen_stages

    def _build(self, stem: nn.Module, block: Callable[[int, float], nn.Module], drop_path_rate: float):
        """``downsample_layers`` = ``stem`` + three LayerNorm2d / 2x2 stride-2 convs; ``stages`` of
        ``block(dim, drop_path)``."""
        d = self.dims
        self.downsample_layers = nn.ModuleList([stem] + [
            nn.Sequential(LayerNorm2d(d[i - 1], eps=1e-6), nn.Conv2d(d[i - 1], d[i], 2, stride=2)) for i in range(1, 4)
        ])
        rates = iter(drop_path_rates(drop_path_rate, sum(self.depths)))
        self.stages = nn.ModuleList(
            nn.Sequential(*[block(dim, next(rates)) for _ in range(depth)]) for depth, dim in zip(self.depths, d))

    def _init_weights(self):
        """The official init (trunc-normal std .02 on every Conv2d / Linear weight, zero biases), then freezing."""
        self.apply(self._init_module)
        self._freeze_stages()

    @staticmethod
    def _init_module(m: nn.Module):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return tuple(self.dims[i] for i in self.out_indices)

    def _stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return self.stages[i](x)

    def _output(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """The output of stage ``i`` (in ``out_indices``) from its (N, C_i, H_i, W_i) map."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self.check_input(x)
        outs = []
        for i in range(4):
            x = self._stage(i, self.downsample_layers[i](x))
            if i in self.out_indices:
                outs.append(self._output(i, x))
        return tuple(outs)

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        self._freeze(self.downsample_layers[0])
        for i in range(self.frozen_stages):
            self._freeze(self.downsample_layers[i], self.stages[i], getattr(self, f'norm{i}', None))

    def get_layer_depth(self, param_name: str, prefix: str = '', decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """``(layer_id, num_layers)`` of a parameter (``prefix``, e.g. ``'backbone.'``, stripped; names without it
        belong to a head and get the top id). A downsampling layer takes the id of the first block of its stage.

        - ``layer_wise``: one id per block (``sum(depths) + 2`` ids); the stem gets :attr:`stem_layer_id`.
          ConvNeXt V2: the official fine-tuning ``single`` scheme (``get_num_layer_for_convnext_single`` in
          ConvNeXt-V2 ``optim_factory.py``).
        - ``stage_wise``: stem 0, stages 0 and 1 ids 1 and 2, stage 2 in ``G = max(ceil(depths[2] / 3), 3)``
          groups of 3 blocks (ids 3 .. G + 2), stage 3 id ``G + 3``, the rest ``G + 4`` (``G + 5`` ids).
          ConvNeXt V2: the official ``group`` scheme (``get_num_layer_for_convnext``: G = 9 for the 3-3-27-3
          arches) and mmdet's / mmpretrain's ConvNeXt-T ``num_layers=6`` (G = 3) for the smaller ones; Conv2Former:
          the same grouping of its deeper third stage (docs/conv2former.md).
        - ``per_stage``: ConvNeXt's segmentation ``stage_wise`` (:func:`convnet_stage_depth`).
        """
        if decay_type == 'per_stage':
            return convnet_stage_depth(param_name, prefix)
        if decay_type not in ('layer_wise', 'stage_wise'):
            raise ValueError(f'decay_type must be layer_wise, stage_wise or per_stage, got {decay_type!r}')
        d = self.depths
        groups = max(-(-d[2] // 3), 3)
        num_layers = sum(d) + 2 if decay_type == 'layer_wise' else groups + 5
        parts = param_name[len(prefix):].split('.') if param_name.startswith(prefix) else ['']
        if parts[0] not in ('downsample_layers', 'stages'):
            return num_layers - 1, num_layers
        s, block = int(parts[1]), int(parts[2]) if parts[0] == 'stages' else 0
        if parts[0] == 'downsample_layers' and s == 0:
            return (self.stem_layer_id if decay_type == 'layer_wise' else 0), num_layers
        if decay_type == 'layer_wise':
            return sum(d[:s]) + block + 1, num_layers
        return (s + 1 if s < 2 else groups + 3 if s == 3 else 3 + block // 3), num_layers
