"""Loading pretrained weights into a backbone or neck, with key conversion and loud shape and coverage checks."""
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Tuple, Union

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


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why the local file ``filename`` cannot be a readable checkpoint, or ``None`` when it looks intact.

    Cheap structural checks that need no unpickling: missing / empty file, a zip archive (torch's format since
    1.6) whose end is cut off or whose members fail their CRC, or content that is neither a zip archive nor a
    pickle. A legacy (pre-1.6) pickle file is not read and passes. An FSDP ``local`` checkpoint (a directory of
    ``rank{i}.pth``) is checked file by file. Non-local paths (``s3://``, ``http://``...) are not checked.
    """
    if '://' in filename:
        return None
    if osp.isdir(filename):
        ranks = sorted(f for f in os.listdir(filename) if re.fullmatch(r'rank\d+\.pth', f))
        if not ranks:
            return 'a directory without rank*.pth files'
        for name in ranks:
            problem = checkpoint_problem(osp.join(filename, name))
            if problem:
                return f'{name}: {problem}'
        return None
    if not osp.isfile(filename):
        return 'the file does not exist'
    size = osp.getsize(filename)
    if size == 0:
        return 'the file is empty (0 bytes)'
    with open(filename, 'rb') as f:
        head = f.read(4)
    if head == b'PK\x03\x04':
        if not zipfile.is_zipfile(filename):
            return f'truncated: a zip archive (torch format) whose end is missing ({size} bytes; interrupted write?)'
        try:
            with zipfile.ZipFile(filename) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            return f'corrupt zip archive ({e})'
        return f'corrupt zip archive (member {bad} fails its CRC check)' if bad else None
    if head[:1] != b'\x80':
        return f'not a PyTorch checkpoint: neither a zip archive nor a pickle (starts with {head!r})'
    return None


def read_checkpoint(filename: str, map_location: str = 'cpu') -> dict:
    """Reads a checkpoint through mmengine's loaders (local path, ``http(s)://``, ``s3://``...); a file that
    cannot be read raises ``RuntimeError`` naming it and saying what is wrong with it."""
    try:
        return CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    except Exception as e:
        problem = checkpoint_problem(filename)
        unreadable = isinstance(e, (EOFError, pickle.UnpicklingError, zipfile.BadZipFile)) or 'zip archive' in str(e)
        if problem is None and not unreadable:
            raise
        error = FileNotFoundError if problem == 'the file does not exist' else RuntimeError
        raise error(f'Cannot read the checkpoint {filename}: {problem or "not a readable torch file"} '
                    f'({type(e).__name__}: {e})') from e


def check_shapes(module: nn.Module, state: StateDict, source: str = 'checkpoint') -> None:
    """Raises ``ValueError`` naming every key whose shape differs between ``state`` and ``module``."""
    own = module.state_dict()
    bad = [f'{k}: {tuple(v.shape)} in the {source} vs {tuple(own[k].shape)} in '
           f'{type(module).__name__}' for k, v in state.items() if k in own and v.shape != own[k].shape]
    if bad:
        raise ValueError(f'Shape mismatch while loading {source} into {type(module).__name__} '
                         f'(wrong arch or an unconverted checkpoint?):\n  ' + '\n  '.join(bad))


#: (family, regex of keys that only that family has, mmconvmae type that reads it); first match wins
FAMILY_MARKERS: Tuple[Tuple[str, str, Optional[str]], ...] = (
    ('ConvMAE', r'(patch_embed[123]\.proj\.|blocks[123]\.\d+\.)', 'mmconvmae.ConvMAE'),
    ('iTPN / HiViT', r'(absolute_pos_embed$|blocks\.\d+\.reduction\.|align_dim_16to(fpn|8)\.|fpn_modules\.)',
     'mmconvmae.HiViT'),
    ('Conv2Former', r'stages\.\d+\.\d+\.(attn\.(att|a)\.\d|layer_scale_1$)', 'mmconvmae.Conv2Former'),
    ('ConvNeXt V2', r'stages\.\d+\.\d+\.grn\.', 'mmconvmae.ConvNeXtV2'),
    ('ConvNeXt (V1, no GRN)', r'stages\.\d+\.\d+\.(dwconv|depthwise_conv)\.', None),
    ('ViT', r'(blocks|layers)\.\d+\.attn\.qkv\.', None),
    ('ResNet', r'layer[1-4]\.\d+\.conv1\.', None),
)
#: top-level prefixes of the task heads -> the framework that wrote the file
LAYOUTS = (
    (('backbone.bottom_up.', 'backbone.net.'), 'a detectron2 model (e.g. official ConvMAE DET)'),
    (('rpn_head.', 'roi_head.', 'bbox_head.'), 'an mmdet detector'),
    (('decode_head.', 'auxiliary_head.'), 'an mmseg segmentor'),
    (('head.', 'neck.', 'target_generator.', 'data_preprocessor.'), 'an mmpretrain model'),
)


def describe_checkpoint(state: StateDict) -> Tuple[Optional[str], Optional[str], Optional[str], str]:
    """Guesses which backbone family wrote ``state`` (an unwrapped state dict) from its key names.

    Returns ``(family, prefix, mmconvmae_type, layout)``: ``family`` is ``None`` when no marker key is found,
    ``prefix`` the prefix in front of the family's keys (``''`` at the top level, e.g. ``'backbone.'``),
    ``layout`` a few words on the file (e.g. ``'an mmdet detector'``).
    """
    keys = list(state)
    family = prefix = kind = None
    for name, marker, our_type in FAMILY_MARKERS:
        found = [m.group(1) for m in (re.search(r'^((?:[^.]+\.)*?)' + marker, k) for k in keys) if m]
        if found:
            family, kind = name, our_type
            prefix = Counter(found).most_common(1)[0][0]
            break
    if prefix == '':
        return family, prefix, kind, 'a bare backbone / classifier state dict'
    layout = 'a state dict'
    for heads, what in LAYOUTS:
        if (prefix or '').startswith(heads) or any(k.startswith(heads) for k in keys):
            layout = what
            break
    return family, prefix, kind, layout


def _diagnosis(module: nn.Module, state: StateDict, prefix: Optional[str]) -> str:
    """What the checkpoint looks like and what to do about it (for error messages)."""
    family, found_prefix, kind, layout = describe_checkpoint(state)
    ours = getattr(module, 'checkpoint_family', None)
    name = type(module).__name__
    if family is None:
        heads = sorted({k.split('.')[0] + '.' for k in state})[:12]
        return (f'Its keys match no known backbone family (top-level prefixes {heads}); it is {layout}. '
                f'{name} needs a {ours or name} checkpoint.')
    where = f"under prefix '{found_prefix}'" if found_prefix else 'at the top level'
    text = f'It looks like a {family} checkpoint ({layout}, backbone keys {where}). '
    if ours is not None and family != ours:
        hint = f', or a {kind} backbone for this file' if kind else ''
        return text + f'{name} is a {ours} backbone: use a {ours} checkpoint{hint}.'
    wanted = repr(found_prefix) if found_prefix else 'None'
    if (found_prefix or None) != (prefix or None):
        return text + f"Use init_cfg=dict(type='Pretrained', checkpoint=..., prefix={wanted})."
    return text + f'The family and prefix fit: the file is probably another arch / depth of {family} than {name}.'


def load_pretrained(module: nn.Module,
                    checkpoint: Union[str, dict],
                    prefix: Optional[str] = None,
                    map_location: str = 'cpu',
                    logger: Union[str, MMLogger] = 'current',
                    min_loaded: float = 1.0) -> Dict[str, List[str]]:
    """Loads pretrained weights into ``module``, non-strictly but loudly.

    Steps: read the file, unwrap it (:func:`extract_state_dict`), let the module convert official key names
    and adapt shapes (``module.adapt_pretrained(state)`` when it exists: renames, GRN reshapes, position
    embedding interpolation), refuse any remaining shape mismatch naming the key, refuse a checkpoint that
    covers too little of the module, load, then log the missing and unexpected keys.

    Coverage: the module's tensors that do not match one of its ``expected_missing_keys`` patterns (parameters
    the downstream layouts add, listed in the docs) are *required*; when less than ``min_loaded`` (default 1.0:
    all of them) of those come from the checkpoint, a ``ValueError`` names the file, the family the file looks
    like (:func:`describe_checkpoint`) and the prefix to use. ``min_loaded=0`` turns the check off.

    Returns:
        ``dict(missing=[...], unexpected=[...], loaded=[...])``; also stored as ``module.pretrained_report``.
    """
    if not 0 <= min_loaded <= 1:
        raise ValueError(f'min_loaded must be a share in [0, 1], got {min_loaded!r}')
    source = checkpoint if isinstance(checkpoint, str) else 'state dict'
    if isinstance(checkpoint, str):
        checkpoint = read_checkpoint(checkpoint, map_location)
    try:
        state = extract_state_dict(checkpoint, prefix)
    except KeyError as e:
        raise KeyError(f'{source}: {e.args[0]}. {_diagnosis(module, extract_state_dict(checkpoint), prefix)}') \
            from None
    if hasattr(module, 'adapt_pretrained'):
        state = module.adapt_pretrained(state)
    check_shapes(module, state, source=str(source))
    own_state = module.state_dict()
    expected = [re.compile(p) for p in getattr(module, 'expected_missing_keys', ())]
    required = [k for k in own_state if not any(p.match(k) for p in expected)]
    lacking = [k for k in required if k not in state]
    if required and 1 - len(lacking) / len(required) < min_loaded:
        name = type(module).__name__
        raise ValueError(
            f'Pretrained checkpoint {source}'
            + (f' (prefix {prefix!r})' if prefix else '')
            + f' fills only {len(required) - len(lacking)} of the {len(required)} tensors of {name} that must '
            f'come from a checkpoint (min_loaded={min_loaded}); missing e.g. {lacking[:5]}. '
            + _diagnosis(module, extract_state_dict(checkpoint), prefix)
            + ' (Keys that may stay missing: ' + (', '.join(p.pattern for p in expected) or 'none')
            + "; lower the bar with init_cfg=dict(type='Pretrained', ..., min_loaded=0.9).)")
    incompatible = module.load_state_dict(state, strict=False)
    own = set(own_state)
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
