"""Convert an official ConvMAE checkpoint to mmconvmae / mmpretrain names.

    python tools/convert/convmae.py convmae.pth convmae_base_1600e_in1k.pth              # released encoder
    python tools/convert/convmae.py checkpoint-1599.pth convmae_full.pth --keep-decoder  # full pretraining run
    python tools/convert/convmae.py checkpoint-99.pth convmae_base_in1k.pth               # fine-tuned classifier

Accepts the released encoder (``{'model': ...}``), full pretraining checkpoints of ``main_pretrain.py`` (decoder,
``mask_token``, fusion convs), fine-tuned classifiers (``fc_norm``, ``head``), and the official DET (detectron2,
``backbone.bottom_up.``) / SEG (mmseg 0.x, ``backbone.``) / Official-ConvMAE-Det (detectron2 ViTDet,
``backbone.net.``, with the 22 ``blocks3.i.attn.rel_pos_h/w`` tables of :class:`mmconvmae.ConvMAEViTDet`)
checkpoints, whose backbone is extracted. Wrappers
(``model`` / ``state_dict`` / ``module``) and pickled ``args`` objects are handled.

Writes ``{'state_dict': ...}`` with ``backbone.*`` keys (plus ``head.fc.*`` for a classifier): loadable with
``load_from`` in an mmpretrain ImageClassifier config, or with ``init_cfg=dict(type='Pretrained', checkpoint=...,
prefix='backbone.')`` in any config. (Official files also load directly through ``init_cfg`` without a prefix.)
With ``--keep-decoder`` the keys of :class:`mmconvmae.ConvMAEPretrain` are written (``backbone.*`` with the fusion
convs and ``norm``, ``neck.*`` with the decoder), so pretraining can continue from an official full checkpoint.
"""
import argparse
from collections import OrderedDict

import torch

from mmconvmae.models.backbones.convmae import convert_convmae_official
from mmconvmae.models.selfsup.convmae import convert_convmae_pretrain_official
from mmconvmae.models.utils import extract_state_dict


def convert(src: dict, keep_decoder: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    state = extract_state_dict(src)
    if keep_decoder:
        return convert_convmae_pretrain_official(state)
    head = OrderedDict(('head.fc.' + k[len('head.'):], v) for k, v in state.items() if k.startswith('head.'))
    body = OrderedDict(('backbone.' + k, v) for k, v in convert_convmae_official(state).items())
    body.update(head)
    return body


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output file (.pth)')
    parser.add_argument('--keep-decoder', action='store_true',
                        help='full pretraining checkpoint: keep the fusion convs and decoder (ConvMAEPretrain keys)')
    args = parser.parse_args(argv)
    src = torch.load(args.src, map_location='cpu', weights_only=False)
    state = convert(src, args.keep_decoder)
    if not any(k.startswith('backbone.patch_embed1.') for k in state):
        raise SystemExit(f'{args.src} holds no ConvMAE encoder (no patch_embed1.* key); keys start with '
                         f'{sorted({k.split(".")[0] for k in extract_state_dict(src)})[:10]}')
    torch.save({'state_dict': state, 'meta': {'converted_from': args.src}}, args.dst)
    extra = sum(not k.startswith('backbone.') for k in state)
    print(f'converted {len(state)} tensors ({len(state) - extra} backbone, {extra} '
          f'{"decoder" if args.keep_decoder else "head"}) -> {args.dst}')


if __name__ == '__main__':
    main()
