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
from mmconvmae.models.convert import cli


def main(argv=None):
    return cli.main('itpn', __doc__, argv)


if __name__ == '__main__':
    main()
