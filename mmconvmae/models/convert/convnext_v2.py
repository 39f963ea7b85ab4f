"""ConvNeXt V2 / FCMAE official checkpoints -> mmconvmae names (docs/convnext_v2.md#official-checkpoints)."""
import re
from collections import OrderedDict
from typing import Dict

import torch

from ..utils.checkpoint import extract_state_dict

StateDict = Dict[str, torch.Tensor]

#: the decoder side of an official FCMAE training checkpoint
_FCMAE_DECODER = re.compile(r'^(decoder\.|proj\.|pred\.|mask_token$)')
_MMPRETRAIN_NAMES = (('.depthwise_conv.', '.dwconv.'), ('.pointwise_conv1.', '.pwconv1.'),
                     ('.pointwise_conv2.', '.pwconv2.'))


def convert_convnextv2_official(state_dict: StateDict, has_norm3: bool = True,
                                keep_head: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """Official ConvNeXt V2 keys -> :class:`ConvNeXtV2` keys. A no-op on keys that are already ours.

    Handles: mmpretrain ``ConvNeXt(use_grn=True)`` backbones (``depthwise_conv`` / ``pointwise_conv{1,2}``),
    fine-tuned ``*_ema.pt`` files (``norm.*`` -> ``norm3.*``; ``head.*`` dropped unless ``keep_head``), FCMAE
    ``pt_only`` encoders, and FCMAE training checkpoints of the official MinkowskiEngine code (``encoder.``
    prefix; ``kernel`` tensors (kv, in, out) / (kv, C) -> conv weights; ``.ln`` / ``.linear`` wrappers; (1, C)
    biases; decoder, ``proj``, ``pred`` and ``mask_token`` dropped). GRN gamma/beta of shape (1, 1, 1, C) or
    (1, C) become (C,).
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('encoder.'):
            key = key[len('encoder.'):]
        elif _FCMAE_DECODER.match(key):
            continue
        if key.startswith('head.') and not keep_head:
            continue
        key = key.replace('.ln.', '.').replace('.linear.', '.')
        for theirs, ours in _MMPRETRAIN_NAMES:
            key = key.replace(theirs, ours)
        if key.endswith('.kernel'):
            key = key[:-len('kernel')] + 'weight'
            if value.dim() == 3:  # MinkowskiConvolution: (k*k, in, out) -> (out, in, k, k), H/W transposed
                ks = int(round(value.shape[0]**0.5))
                value = value.permute(2, 1, 0).reshape(value.shape[2], value.shape[1], ks, ks).transpose(3, 2)
            elif value.dim() == 2:  # depthwise: (k*k, C) -> (C, 1, k, k)
                ks = int(round(value.shape[0]**0.5))
                value = value.permute(1, 0).reshape(value.shape[1], 1, ks, ks).transpose(3, 2)
        elif key.endswith('.bias') and value.dim() > 1:
            value = value.reshape(-1)
        if '.grn.' in key and value.dim() > 1:
            value = value.reshape(-1)
        if key.startswith('norm.') and has_norm3:
            key = 'norm3.' + key[len('norm.'):]
        out[key] = value.contiguous()
    return out


def convert_fcmae_official(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """Official FCMAE training checkpoint (``main_pretrain.py``: MinkowskiEngine encoder under ``encoder.``,
    dense ``proj``, ``mask_token``, ``decoder.0.*``, ``pred``;
    docs/convnext_v2.md#fcmae-training-checkpoints-minkowskiengine) -> :class:`FCMAE` keys, so official
    full checkpoints can resume pretraining here: encoder -> ``backbone.*`` (Minkowski kernels converted by
    :func:`convert_convnextv2_official`), decoder side -> ``neck.*`` with GRN gamma/beta as (C,).
    Keys that already are ours (``backbone.*``, ``neck.*``) pass through.
    """
    out = OrderedDict()
    encoder = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(('backbone.', 'neck.')):
            out[key] = value
        elif _FCMAE_DECODER.match(key):
            if '.grn.' in key and value.dim() > 1:
                value = value.reshape(-1)
            out['neck.' + key] = value.contiguous()
        else:
            encoder[key] = value
    for key, value in convert_convnextv2_official(encoder, has_norm3=False).items():
        out['backbone.' + key] = value
    return out


def convert(checkpoint: dict, keep_decoder: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """A loaded official checkpoint -> ``backbone.*`` (``norm`` -> ``backbone.norm3``) plus ``head.fc.*`` when it
    has a classifier (an mmpretrain ImageClassifier); with ``keep_decoder`` the :class:`FCMAE` keys instead."""
    state = extract_state_dict(checkpoint)
    if keep_decoder:
        return convert_fcmae_official(state)
    out = OrderedDict()
    for key, value in convert_convnextv2_official(state, has_norm3=True, keep_head=True).items():
        out[('head.fc.' + key[len('head.'):]) if key.startswith('head.') else 'backbone.' + key] = value
    return out


# the command line of tools/convert (cli.main)
SRC_HELP = 'official checkpoint (.pt)'
CLI_FLAGS = {'--keep-decoder': 'FCMAE training checkpoint: keep the decoder, write mmconvmae.FCMAE keys'}
REQUIRED = ('backbone.stages.', 'ConvNeXt V2')
