"""Loading pretrained weights into a backbone or neck, with key conversion and loud shape checks."""
from collections import OrderedDict
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.runner.checkpoint import CheckpointLoader

StateDict = Dict[str, torch.Tensor]
_WRAPPER_KEYS = ('state_dict', 'model', 'module')


def extract_state_dict(checkpoint: dict, prefix: Optional[str] = None) -> StateDict:
    """Unwraps the ``state_dict`` / ``model`` / ``module`` level of a checkpoint, strips a DDP ``module.``
    prefix and, when ``prefix`` is given (e.g. ``'backbone.'``), keeps only the keys under it, without it.

    Non-tensor entries (e.g. the pickled ``args`` of some official releases) are dropped.
    """
    state = checkpoint
    for _ in range(2):  # e.g. {'model': {'module': ...}}
        for key in _WRAPPER_KEYS:
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
                break
    state = OrderedDict((k, v) for k, v in state.items() if isinstance(v, torch.Tensor))
    if state and all(k.startswith('module.') for k in state):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    if prefix:
        if not prefix.endswith('.'):
            prefix += '.'
        selected = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
        if not selected:
            heads = sorted({k.split('.')[0] + '.' for k in state})
            raise KeyError(f'No key of the checkpoint starts with prefix {prefix!r}; '
                           f'the top-level prefixes present are {heads[:20]}')
        state = selected
    return state


def read_checkpoint(filename: str, map_location: str = 'cpu') -> dict:
    """Reads a checkpoint through mmengine's loaders (local path, ``http(s)://``, ``s3://``...)."""
    return CheckpointLoader.load_checkpoint(filename, map_location=map_location)


def check_shapes(module: nn.Module, state: StateDict, source: str = 'checkpoint') -> None:
    """Raises ``ValueError`` naming every key whose shape differs between ``state`` and ``module``."""
    own = module.state_dict()
    bad = [f'{k}: {tuple(v.shape)} in the {source} vs {tuple(own[k].shape)} in '
           f'{type(module).__name__}' for k, v in state.items() if k in own and v.shape != own[k].shape]
    if bad:
        raise ValueError(f'Shape mismatch while loading {source} into {type(module).__name__} '
                         f'(wrong arch or an unconverted checkpoint?):\n  ' + '\n  '.join(bad))


def load_pretrained(module: nn.Module,
                    checkpoint: Union[str, dict],
                    prefix: Optional[str] = None,
                    map_location: str = 'cpu',
                    logger: Union[str, MMLogger] = 'current') -> Dict[str, List[str]]:
    """Loads pretrained weights into ``module``, non-strictly but loudly.

    Steps: read the file, unwrap it (:func:`extract_state_dict`), let the module convert official key names
    and adapt shapes (``module.adapt_pretrained(state)`` when it exists: renames, GRN reshapes, position
    embedding interpolation), refuse any remaining shape mismatch naming the key, load, then log the
    missing and unexpected keys.

    Returns:
        ``dict(missing=[...], unexpected=[...], loaded=[...])``; also stored as ``module.pretrained_report``.
    """
    source = checkpoint if isinstance(checkpoint, str) else 'state dict'
    if isinstance(checkpoint, str):
        checkpoint = read_checkpoint(checkpoint, map_location)
    state = extract_state_dict(checkpoint, prefix)
    if hasattr(module, 'adapt_pretrained'):
        state = module.adapt_pretrained(state)
    check_shapes(module, state, source=str(source))
    incompatible = module.load_state_dict(state, strict=False)
    own = set(module.state_dict())
    report = dict(
        missing=list(incompatible.missing_keys),
        unexpected=list(incompatible.unexpected_keys),
        loaded=[k for k in state if k in own])
    name = type(module).__name__
    print_log(f'{name}: loaded {len(report["loaded"])}/{len(own)} tensors from {source}'
              + (f' (prefix {prefix!r})' if prefix else ''), logger=logger)
    if report['missing']:
        print_log(f'{name}: missing keys (left at their initialisation): {report["missing"]}', logger=logger)
    if report['unexpected']:
        print_log(f'{name}: unexpected keys (ignored): {report["unexpected"]}', logger=logger)
    module.pretrained_report = report
    return report
