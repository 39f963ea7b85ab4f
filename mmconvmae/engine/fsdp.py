"""Sharded training (FSDP) of the huge arches on mmengine's ``FlexibleRunner`` + ``FSDPStrategy``.

``tools/train.py CONFIG --strategy fsdp`` (through ``tools/dist_train.sh``) calls :func:`enable_fsdp`: the runner
becomes ``FlexibleRunner`` with ``FSDPStrategy``, whose ``MMFullyShardedDataParallel`` wraps every block of our
backbones as one FSDP unit (:func:`block_wrap_policy`; the rest of the model, stems, necks and heads, is the root
unit) with ``use_orig_params=True``, so that the optimizer constructors see the original parameters (names and
``requires_grad``) and checkpoints are saved as one full state dict on rank 0 (loadable by ``tools/test.py`` and
without FSDP).
"""
import torch.nn as nn
from mmengine.config import Config

from mmconvmae.registry import FUNCTIONS

#: prefixes FSDP (and activation checkpointing) insert into parameter names of wrapped modules
WRAPPER_PREFIXES = ('_fsdp_wrapped_module.', '_checkpoint_wrapped_module.')


def block_types() -> tuple:
    """The block classes of the four families: one FSDP unit each."""
    from mmconvmae.models.backbones.conv2former import Conv2FormerBlock
    from mmconvmae.models.backbones.convmae import ConvBlock, TransformerBlock
    from mmconvmae.models.backbones.convnext_v2 import ConvNeXtV2Block
    from mmconvmae.models.backbones.hivit import HiViTBlock
    return ConvNeXtV2Block, ConvBlock, TransformerBlock, HiViTBlock, Conv2FormerBlock


@FUNCTIONS.register_module()
def block_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int = 0, **kwargs) -> bool:
    """FSDP ``auto_wrap_policy``: recurse everywhere, wrap each ConvNeXt V2 / ConvMAE / HiViT / Conv2Former block
    (torch's ``ModuleWrapPolicy`` as the function form that mmengine's ``MMFullyShardedDataParallel`` takes)."""
    return True if recurse else isinstance(module, block_types())


def clean_param_name(name: str) -> str:
    """``backbone.blocks3.0._fsdp_wrapped_module.attn.qkv.weight`` -> ``backbone.blocks3.0.attn.qkv.weight``."""
    for prefix in WRAPPER_PREFIXES:
        name = name.replace(prefix, '')
    return name


def original_shapes(module: nn.Module) -> dict:
    """``{id(param): torch.Size}`` of the parameters that FSDP (``use_orig_params=True``) exposes as flat 1-D shards:
    their unsharded shapes, read from the flat parameters of the FSDP units inside ``module``. Empty without FSDP."""
    shapes = {}
    for m in module.modules():
        flat = getattr(getattr(m, '_handle', None), 'flat_param', None)
        params = getattr(flat, '_params', None)
        if params is not None:
            shapes.update((id(p), s) for p, s in zip(params, flat._shapes))
    return shapes


def enable_fsdp(cfg: Config) -> None:
    """``--strategy fsdp``: ``FlexibleRunner`` with mmengine's ``FSDPStrategy`` (settings of ``cfg.strategy`` win)."""
    if cfg.launcher == 'none':
        raise RuntimeError('--strategy fsdp needs a distributed launch (FSDP shards over a process group): '
                           'bash tools/dist_train.sh CONFIG NUM_PROCESSES --strategy fsdp   (1 process works too)')
    wrapper = dict(type='MMFullyShardedDataParallel', use_orig_params=True,
                   auto_wrap_policy=dict(type='mmconvmae.block_wrap_policy'))
    merged = Config(dict(strategy=dict(type='FSDPStrategy', model_wrapper=wrapper, state_dict_cfg='full')))
    merged.merge_from_dict(dict(strategy=cfg.get('strategy') or {}))
    strategy = merged.strategy
    if not strategy.model_wrapper.get('use_orig_params', True):
        raise ValueError('--strategy fsdp needs model_wrapper.use_orig_params=True: the optimizer constructors '
                         '(paramwise / layer decay) group the original parameters by name')
    cfg.strategy = strategy
    cfg.runner_type = 'FlexibleRunner'
