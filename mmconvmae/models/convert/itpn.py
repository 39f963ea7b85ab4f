"""iTPN official (pixel / CLIP pretraining, fine-tuned) and mmpretrain iTPN checkpoints -> mmconvmae names
(docs/itpn.md#official-and-mmpretrain-checkpoints): the key maps of the backbone (:class:`HiViT`), the pyramid
(:class:`iTPNPyramid`) and the pretraining heads live here, not in the modules that use them."""
import re
from collections import OrderedDict
from typing import Dict

import torch

from ..utils.checkpoint import extract_state_dict

# official iTPN top-level names -> our module (the rest is the backbone)
PYRAMID_KEYS = re.compile(r'^(align_dim_16tofpn|align_dim_16to8|align_dim_8to4|split_16to8|split_8to4|block_16to8|'
                          r'block_8to4|fpn_modules)\.')
PIXEL_HEAD_KEYS = re.compile(r'^(decoder_embed\.|decoder_blocks\.|decoder_norm\.|decoder_pred\.|decoder_pos_embed$)')
CLIP_HEAD_KEYS = re.compile(r'^(decoder_embed\.|norm\.|norm_cls\.|lm_head\.|lm_cls_head\.|cls_pt_layers\.)')
# mmpretrain iTPNPretrainDecoder's mmcv TransformerEncoderLayer names -> official decoder names
_MMPRETRAIN_DECODER = (('.ln1.', '.norm1.'), ('.ln2.', '.norm2.'), ('.ffn.layers.0.0.', '.mlp.fc1.'),
                       ('.ffn.layers.1.', '.mlp.fc2.'))


def convert_itpn_official(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Official iTPN (pixel or CLIP) or mmpretrain iTPN keys -> our ``backbone.* / neck.* / head.*`` layout.

    A no-op on our own keys. Official: backbone keys are kept as they are; the pyramid (``align_dim_*``,
    ``split_*``, ``block_*``, ``fpn_modules``) goes to ``neck.``; pretraining heads go to ``head.`` (pixel:
    ``decoder_*`` and the decoder's ``mask_token``; CLIP: ``decoder_embed``, ``norm``, ``norm_cls``, ``lm_*``,
    ``cls_pt_layers``, while its ``mask_token`` (dim E) stays in the backbone). The top-level
    ``relative_position_index`` buffers are dropped, the ``head.*`` classifier of fine-tuned files becomes
    ``head.fc.*`` (mmpretrain ``LinearClsHead``), ``target_generator.*`` (teacher) keys are dropped.
    mmpretrain: ``(backbone.)pos_embed`` -> ``backbone.absolute_pos_embed``, the pyramid stays in ``neck.``,
    ``neck.{decoder_*, mask_token, ln1}`` -> ``head.{..., decoder_norm}``, ``head.cls_head`` -> ``head.lm_head``.
    mmpretrain's base/large HiViT has 4/4 stem blocks, so its ``blocks`` only match ours for a custom
    ``depths=[4, 4, d]`` arch (a shape check catches the rest).
    """
    keys = set(state_dict)
    ours = any(k.startswith(('backbone.', 'neck.')) for k in keys)
    mmpretrain = ours and ('backbone.pos_embed' in keys or any(k.startswith('neck.decoder_') for k in keys))
    clip = 'lm_head.weight' in keys
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.endswith('relative_position_index') or key.startswith('target_generator.'):
            continue  # fixed buffers; the CLIP teacher loads its own weights
        if ours:
            if mmpretrain:
                if key == 'backbone.pos_embed':
                    key = 'backbone.absolute_pos_embed'
                elif key.startswith('neck.'):
                    sub = key[len('neck.'):]
                    if not PYRAMID_KEYS.match(sub):
                        if sub.startswith('ln1.'):
                            sub = 'decoder_norm.' + sub[len('ln1.'):]
                        for theirs, mine in _MMPRETRAIN_DECODER:
                            sub = sub.replace(theirs, mine)
                        key = 'head.' + sub
                elif key.startswith('head.cls_head.'):
                    key = 'head.lm_head.' + key[len('head.cls_head.'):]
            out[key] = value
            continue
        if PYRAMID_KEYS.match(key):
            out['neck.' + key] = value
        elif (CLIP_HEAD_KEYS if clip else PIXEL_HEAD_KEYS).match(key) or (key == 'mask_token' and not clip):
            out['head.' + key] = value
        elif key.startswith('head.'):  # classifier of a fine-tuned file -> mmpretrain LinearClsHead
            out['head.fc.' + key[len('head.'):]] = value
        else:  # a bare mmpretrain HiViT backbone names the position embedding ``pos_embed``
            out['backbone.' + ('absolute_pos_embed' if key == 'pos_embed' else key)] = value
    return out


def convert(checkpoint: dict, no_head: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """A loaded official / mmpretrain checkpoint -> the :class:`mmconvmae.iTPN` layout: ``backbone.*`` (HiViT),
    ``neck.*`` (the pyramid) and ``head.*`` (pretraining heads, or ``head.fc.*`` of a fine-tuned classifier);
    ``no_head`` keeps only ``backbone.*`` and ``neck.*``."""
    state = convert_itpn_official(extract_state_dict(checkpoint))
    if no_head:
        state = OrderedDict((k, v) for k, v in state.items() if k.startswith(('backbone.', 'neck.')))
    return state


# the command line of tools/convert (cli.main)
SRC_HELP = 'official or mmpretrain iTPN checkpoint'
CLI_FLAGS = {'--no-head': 'keep only backbone.* and neck.* (downstream use)'}
REQUIRED = ('backbone.blocks.', 'iTPN backbone')
