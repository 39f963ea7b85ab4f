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
from mmconvmae.models.convert import cli


def main(argv=None):
    return cli.main('convnext_v2', __doc__, argv)


if __name__ == '__main__':
    main()
