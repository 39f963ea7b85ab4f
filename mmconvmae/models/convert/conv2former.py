"""Conv2Former official checkpoints (timm ``.pth.tar`` of HVision-NKU/Conv2Former) -> mmconvmae names
(docs/conv2former.md#official-checkpoints)."""
from collections import OrderedDict
from typing import Dict

import torch

from ..utils.checkpoint import extract_state_dict

StateDict = Dict[str, torch.Tensor]


def convert_conv2former_official(state_dict: StateDict,
                                 keep_head: bool = True,
                                 keep_pred: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """Official Conv2Former keys -> :class:`Conv2Former` keys. A no-op on keys that are already ours.

    Handles the released ``models/conv2former.py`` names (identical to ours), the 2022 gist's ``attn.a.*``
    (-> ``attn.att.*``), and layer scales stored as (1, C, 1, 1) or (C, 1, 1) (-> (C,)). The 1280-d ``head.*``
    is kept only when ``keep_head`` (classification backbones); the classifier ``pred.*`` is dropped unless
    ``keep_pred``. Wrappers (``state_dict`` / ``state_dict_ema`` / ``model`` / ``module.``) and non-tensor
    entries (the pickled ``args``) are removed before, by ``extract_state_dict``.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('head.') and not keep_head or key.startswith('pred.') and not keep_pred:
            continue
        key = key.replace('.attn.a.', '.attn.att.')
        if 'layer_scale_' in key and value.dim() > 1:
            value = value.reshape(-1)
        out[key] = value
    return out


def convert(checkpoint: dict, ema: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """A loaded official checkpoint -> ``backbone.*`` (the 1280-d pre-logits block stays ``backbone.head.*``) and
    ``head.fc.*`` from the classifier ``pred`` (an mmpretrain ImageClassifier); ``ema`` reads ``state_dict_ema``."""
    if ema:
        if not isinstance(checkpoint.get('state_dict_ema'), dict):
            raise SystemExit('--ema: the checkpoint has no state_dict_ema (trained without --model-ema)')
        checkpoint = checkpoint['state_dict_ema']
    state = convert_conv2former_official(extract_state_dict(checkpoint), keep_head=True, keep_pred=True)
    return OrderedDict((('head.fc.' + k[len('pred.'):]) if k.startswith('pred.') else 'backbone.' + k, v)
                       for k, v in state.items())


# the command line of tools/convert (cli.main)
SRC_HELP = 'official checkpoint (.pth.tar / .pth)'
CLI_FLAGS = {'--ema': 'convert state_dict_ema instead of state_dict'}
REQUIRED = ('backbone.stages.', 'Conv2Former')
