"""Registries of mmconvmae, children of mmengine's root registries.

Because every registry here is a child of the matching mmengine root registry (scope ``mmconvmae``),
any mmdet / mmseg / mmpretrain config can name our modules with the scope prefix and no import line::

    backbone=dict(type='mmconvmae.ConvNeXtV2', arch='base')
    optim_wrapper=dict(constructor='mmconvmae.LayerDecayOptimWrapperConstructor', ...)
    optim_wrapper=dict(type='mmconvmae.AutocastOptimWrapper', ...)  # bf16 autocast, also on CPU

The prefix makes mmengine import ``mmconvmae.registry`` and then the ``locations`` below.
"""
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import Registry

from .compat import apply as _apply_compat

_apply_compat()

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmconvmae', locations=['mmconvmae.models'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmconvmae',
    locations=['mmconvmae.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='mmconvmae', locations=['mmconvmae.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmconvmae', locations=['mmconvmae.engine'])
# e.g. the FSDP auto-wrap policy ``mmconvmae.block_wrap_policy``
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope='mmconvmae', locations=['mmconvmae.engine.fsdp'])

__all__ = ['MODELS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS', 'HOOKS', 'FUNCTIONS']
