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
from mmconvmae.models.convert import cli


def main(argv=None):
    return cli.main('conv2former', __doc__, argv)


if __name__ == '__main__':
    main()
