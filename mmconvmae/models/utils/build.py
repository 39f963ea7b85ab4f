"""Building sub-modules from a config or a module, with defaults that depend on the class being built."""
from typing import Optional, Union

import torch.nn as nn

from mmconvmae.registry import MODELS


def build_module(cfg: Union[dict, nn.Module], default: type, what: str, strict: bool = False,
                 defaults: Optional[dict] = None) -> nn.Module:
    """Builds a sub-module: a module as is; a dict without ``type`` as ``default(**cfg)``; a dict whose ``type``
    is a class or a (scoped, e.g. ``'mmpretrain.MAEPretrainHead'``) registry name through that class.

    ``defaults`` fill the keys a dict leaves out when the class built is ``default`` or a subclass of it (another
    class may not take them). ``what`` names the part in errors (e.g. ``'FCMAE neck'``); ``strict`` requires a
    ``default`` instance.
    """
    if isinstance(cfg, nn.Module):
        module = cfg
    elif not isinstance(cfg, dict):
        raise TypeError(f'{what} must be a dict or an nn.Module, got {type(cfg).__name__}')
    else:
        cfg = dict(cfg)
        kind = cfg.pop('type', None)
        cls = default if kind is None else (kind if isinstance(kind, type) else MODELS.get(kind))
        if cls is None:
            raise KeyError(f'{what}: unknown type {kind!r} (use a scoped name such as '
                           f"'mmconvmae.{default.__name__}')")
        if defaults and issubclass(cls, default):
            cfg = {**defaults, **cfg}
        module = cls(**cfg)
    if strict and not isinstance(module, default):
        raise TypeError(f'{what} must be a {default.__name__}, got {type(module).__name__}')
    return module


__all__ = ['build_module']
