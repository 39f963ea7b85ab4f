"""ConvMAE official checkpoints (released encoder, pretraining runs, fine-tuned classifiers, DET / SEG) ->
mmconvmae names (docs/convmae.md#converting-official-checkpoints)."""
import re
from collections import OrderedDict
from typing import Dict

import torch

from ..utils.checkpoint import extract_state_dict

StateDict = Dict[str, torch.Tensor]

#: prefixes of the official downstream checkpoints: DET (detectron2), Official-ConvMAE-Det, SEG (mmseg 0.x)
_OFFICIAL_PREFIXES = ('backbone.bottom_up.', 'backbone.net.', 'backbone.')
_PRETRAIN_ONLY = re.compile(r'^(mask_token$|decoder_|stage[12]_output_decode\.)')
#: parameters that only some ConvMAE variants have (pretraining encoder / decoder, classifier)
VARIANT_ONLY = re.compile(r'^(mask_token$|decoder_|stage[12]_output_decode\.|norm\.|fc_norm\.)')
#: relative-position parameters of the ConvMAE variants: (pattern, the backbone that uses them)
_REL_POS_VARIANTS = OrderedDict(
    decomposed=(re.compile(r'^blocks3\.\d+\.attn\.rel_pos_[hw]$'),
                'mmconvmae.ConvMAEViTDet (Official-ConvMAE-Det, per-block decomposed rel_pos_h/rel_pos_w)'),
    shared=(re.compile(r'^(windowed|global)_rel_pos_bias\.'),
            "mmconvmae.ConvMAEDet (Alpha-VL DET, rel_pos_bias='shared')"),
    per_block=(re.compile(r'^blocks3\.\d+\.attn\.relative_position_bias_table$'),
               "mmconvmae.ConvMAE(rel_pos_bias='per_block') (Alpha-VL SEG)"))


def check_rel_pos_variant(name: str, state: StateDict, own: StateDict) -> None:
    """Refuses a checkpoint whose relative-position parameters belong to another attention scheme when one side
    is the decomposed (ViTDet) scheme: dropping them would silently compute another function."""
    has = {v: [k for k in state if p.match(k)] for v, (p, _) in _REL_POS_VARIANTS.items()}
    mine = {v for v, (p, _) in _REL_POS_VARIANTS.items() if any(p.match(k) for k in own)}
    for variant, keys in has.items():
        if keys and variant not in mine and ('decomposed' in mine or variant == 'decomposed'):
            raise ValueError(f'{name}: the checkpoint holds {len(keys)} relative-position tensors of another ConvMAE '
                             f'variant ({keys[0]}, ...) that this backbone has no place for; build '
                             f'{_REL_POS_VARIANTS[variant][1]} to load it')


def convert_convmae_official(state_dict: StateDict, keep_pretrain: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """Official ConvMAE keys -> :class:`ConvMAE` keys; a no-op on our own keys.

    Reads the released encoder (``convmae.pth``: same names), pretraining checkpoints (decoder, ``mask_token`` and
    ``stage{1,2}_output_decode`` dropped unless ``keep_pretrain``), fine-tuned classifiers (``head.*`` dropped,
    ``fc_norm`` kept), DET / Official-ConvMAE-Det / SEG checkpoints (the backbone under ``backbone.bottom_up.`` /
    ``backbone.net.`` / ``backbone.`` is taken, the rest dropped) and ConvMAE-v2 files (``cls_token`` dropped).
    ``relative_position_index`` buffers are dropped (we compute them). The per-block ``blocks3.i.attn.rel_pos_h/w``
    tables of Official-ConvMAE-Det are kept for :class:`ConvMAEViTDet`; the other backbones refuse them on load
    (:func:`check_rel_pos_variant`).
    """
    state = OrderedDict(state_dict)
    for prefix in _OFFICIAL_PREFIXES:
        if prefix + 'patch_embed1.proj.weight' in state:
            state = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
            break
    out = OrderedDict()
    for key, value in state.items():
        if key.endswith('relative_position_index') or key.startswith('head.') or key == 'cls_token':
            continue
        if not keep_pretrain and _PRETRAIN_ONLY.match(key):
            continue
        out[key] = value
    return out


def convert_convmae_pretrain_official(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """A full official pretraining checkpoint (``models_convmae.MaskedAutoencoderConvViT``) -> :class:`ConvMAEPretrain`
    keys: encoder, fusion convs and ``norm`` -> ``backbone.*``; ``mask_token`` and ``decoder_*`` -> ``neck.*``.
    Keys that already are ours pass through."""
    out = OrderedDict()
    for key, value in convert_convmae_official(state_dict, keep_pretrain=True).items():
        if key.startswith(('backbone.', 'neck.')):
            out[key] = value
        elif key == 'mask_token' or key.startswith('decoder_'):
            out['neck.' + key] = value
        else:
            out['backbone.' + key] = value
    return out


def convert(checkpoint: dict, keep_decoder: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """A loaded official checkpoint -> ``backbone.*`` plus ``head.fc.*`` for a fine-tuned classifier (an mmpretrain
    ImageClassifier); with ``keep_decoder`` the :class:`ConvMAEPretrain` keys instead."""
    state = extract_state_dict(checkpoint)
    if keep_decoder:
        return convert_convmae_pretrain_official(state)
    out = OrderedDict(('backbone.' + k, v) for k, v in convert_convmae_official(state).items())
    out.update(('head.fc.' + k[len('head.'):], v) for k, v in state.items() if k.startswith('head.'))
    return out


# the command line of tools/convert (cli.main)
SRC_HELP = 'official checkpoint (.pth)'
CLI_FLAGS = {'--keep-decoder': 'full pretraining checkpoint: keep the fusion convs and decoder (ConvMAEPretrain keys)'}
REQUIRED = ('backbone.patch_embed1.', 'ConvMAE encoder')
