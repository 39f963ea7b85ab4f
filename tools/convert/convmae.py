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
from mmconvmae.models.convert import cli


def main(argv=None):
    return cli.main('convmae', __doc__, argv)


if __name__ == '__main__':
    main()
