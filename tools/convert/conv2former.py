"""Convert an official Conv2Former checkpoint to mmconvmae / mmpretrain names.

    python tools/convert/conv2former.py conv2former_t.pth.tar conv2former_t_in1k.pth
    python tools/convert/conv2former.py conv2former_b_22k.pth.tar conv2former_b22k_in1k.pth --ema

Accepts the released timm ``.pth.tar`` files of HVision-NKU/Conv2Former (``state_dict``, optional
``state_dict_ema``, a pickled ``argparse.Namespace`` under ``args``: read with ``weights_only=False``), plain state
dicts, and the 2022 gist's ``attn.a.*`` naming. Writes ``{'state_dict': ...}`` with ``backbone.*`` keys (the 1280-d
pre-logits block stays ``backbone.head.*``) and ``head.fc.*`` from the classifier ``pred``: loadable with
``load_from`` in an mmpretrain ImageClassifier config such as configs/conv2former_tiny_in1k.py, or with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` in any config (dense backbones drop
``head``). Official files also load directly through ``init_cfg`` without a prefix. Build ``b_22k`` (7x7 kernels) for
the IN-22K base checkpoints and ``n`` (7x7) for the nano one; a wrong kernel size is refused naming the key.
"""
import argparse
from collections import OrderedDict

import torch

from mmconvmae.models.backbones.conv2former import convert_conv2former_official
from mmconvmae.models.utils import extract_state_dict


def convert(src: dict, ema: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    if ema:
        if not isinstance(src.get('state_dict_ema'), dict):
            raise SystemExit('--ema: the checkpoint has no state_dict_ema (trained without --model-ema)')
        src = src['state_dict_ema']
    state = convert_conv2former_official(extract_state_dict(src), keep_head=True, keep_pred=True)
    out = OrderedDict()
    for key, value in state.items():
        out[('head.fc.' + key[len('pred.'):]) if key.startswith('pred.') else 'backbone.' + key] = value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth.tar / .pth)')
    parser.add_argument('dst', help='output file (.pth)')
    parser.add_argument('--ema', action='store_true', help='convert state_dict_ema instead of state_dict')
    args = parser.parse_args(argv)
    src = torch.load(args.src, map_location='cpu', weights_only=False)
    state = convert(src, args.ema)
    if not any(k.startswith('backbone.stages.') for k in state):
        raise SystemExit(f'{args.src} holds no Conv2Former (no stages.* key); keys start with '
                         f'{sorted({k.split(".")[0] for k in extract_state_dict(src)})[:10]}')
    torch.save({'state_dict': state, 'meta': {'converted_from': args.src}}, args.dst)
    heads = sum(k.startswith('head.') for k in state)
    print(f'converted {len(state)} tensors ({len(state) - heads} backbone, {heads} classifier) -> {args.dst}')


if __name__ == '__main__':
    main()
