"""Convert an official iTPN checkpoint (pixel or CLIP pretraining, or fine-tuned) or an mmpretrain iTPN checkpoint
to mmconvmae names.

    python tools/convert/itpn.py itpn_base_pixel.pth itpn_base_pixel_mm.pth
    python tools/convert/itpn.py itpn_base_clip.pth itpn_base_clip_mm.pth
    python tools/convert/itpn.py mmpretrain_itpn_epoch_1600.pth itpn_mm.pth

Writes ``{'state_dict': ...}`` in the layout of :class:`mmconvmae.iTPN`: ``backbone.*`` (HiViT, official names),
``neck.*`` (the pyramid: ``align_dim_*``, ``split_*``, ``block_*``, ``fpn_modules``) and ``head.*`` (pretraining
heads; a fine-tuned file's classifier becomes ``head.fc.*``). So one converted file initialises Mask R-CNN / UperNet
(``init_cfg`` with ``prefix='backbone.'`` and ``prefix='neck.'``), fine-tuning (``prefix='backbone.'``) or resumes
pretraining (``load_from``). Official files also load directly through ``init_cfg`` (no prefix); converting once
saves the conversion at every start and makes the pyramid/backbone split explicit.
Note: the first released ``itpn_base_pixel.pth`` had ``fpn_dim=512`` (official issue #3): build the neck with
``fpn_dim=512`` for it (a shape check names every mismatching key otherwise).
"""
import argparse

import torch

from mmconvmae.models.backbones.hivit import convert_itpn_official
from mmconvmae.models.utils import extract_state_dict, read_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official or mmpretrain iTPN checkpoint')
    parser.add_argument('dst', help='output file (.pth)')
    parser.add_argument('--no-head', action='store_true', help='keep only backbone.* and neck.* (downstream use)')
    args = parser.parse_args(argv)
    state = convert_itpn_official(extract_state_dict(read_checkpoint(args.src)))
    if args.no_head:
        state = {k: v for k, v in state.items() if k.startswith(('backbone.', 'neck.'))}
    torch.save({'state_dict': state, 'meta': {'converted_from': args.src}}, args.dst)
    counts = {p: sum(k.startswith(p + '.') for k in state) for p in ('backbone', 'neck', 'head')}
    print(f'converted {len(state)} tensors ({counts["backbone"]} backbone, {counts["neck"]} neck, '
          f'{counts["head"]} head) -> {args.dst}')


if __name__ == '__main__':
    main()
