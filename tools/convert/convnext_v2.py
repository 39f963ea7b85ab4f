"""Convert an official ConvNeXt V2 checkpoint to mmconvmae / mmpretrain names.

    python tools/convert/convnext_v2.py convnextv2_base_1k_224_ema.pt convnextv2_base_in1k.pth
    python tools/convert/convnext_v2.py convnextv2_base_1k_224_fcmae.pt convnextv2_base_fcmae.pth
    python tools/convert/convnext_v2.py checkpoint-799.pth fcmae_base_full.pth --keep-decoder

Accepts fine-tuned ``*_ema.pt`` files, FCMAE ``pt_only`` encoders and FCMAE MinkowskiEngine training checkpoints.
Writes ``{'state_dict': ...}`` with ``backbone.*`` keys (``norm`` -> ``backbone.norm3``) and, when the file has a
classifier, ``head.fc.*``: loadable with ``load_from`` in an mmpretrain ImageClassifier config, or with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` in any config. (Official files also
load directly through ``init_cfg`` without a prefix; converting once saves the conversion at every start.)

``--keep-decoder`` (FCMAE training checkpoints of the official code: Minkowski encoder + decoder) writes the keys of
:class:`mmconvmae.FCMAE` (``backbone.*`` and ``neck.{proj, mask_token, decoder, pred}``) instead, so pretraining can
continue from an official full checkpoint (``load_from=`` in the FCMAE config).
"""
import argparse
from collections import OrderedDict

import torch

from mmconvmae.models.backbones.convnext_v2 import convert_convnextv2_official
from mmconvmae.models.selfsup.fcmae import convert_fcmae_official
from mmconvmae.models.utils import extract_state_dict


def convert(src: dict) -> 'OrderedDict[str, torch.Tensor]':
    state = extract_state_dict(src)
    body = convert_convnextv2_official(state, has_norm3=True, keep_head=True)
    out = OrderedDict()
    for key, value in body.items():
        out[('head.fc.' + key[len('head.'):]) if key.startswith('head.') else 'backbone.' + key] = value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official checkpoint (.pt)')
    parser.add_argument('dst', help='output file (.pth)')
    parser.add_argument('--keep-decoder', action='store_true',
                        help='FCMAE training checkpoint: keep the decoder, write mmconvmae.FCMAE keys')
    args = parser.parse_args(argv)
    src = torch.load(args.src, map_location='cpu', weights_only=False)
    state = convert_fcmae_official(extract_state_dict(src)) if args.keep_decoder else convert(src)
    torch.save({'state_dict': state, 'meta': {'converted_from': args.src}}, args.dst)
    heads = sum(k.startswith(('head.', 'neck.')) for k in state)
    print(f'converted {len(state)} tensors ({len(state) - heads} backbone, {heads} '
          f'{"decoder" if args.keep_decoder else "head"}) -> {args.dst}')


if __name__ == '__main__':
    main()
