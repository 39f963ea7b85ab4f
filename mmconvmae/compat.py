"""Compatibility of the pinned OpenMMLab stack with current torch, applied when mmconvmae's registry loads.

torch >= 2.6 defaults ``torch.load`` to ``weights_only=True``; mmengine 0.10.x calls ``torch.load`` without the
argument, so resuming from a runner checkpoint (which pickles ``HistoryBuffer`` and numpy objects) fails with
``UnpicklingError: Unsupported global`` (open-mmlab/mmengine#1655, fixed upstream only in 0.11.0rc). We register
a local-file loader that passes ``weights_only=False`` (what mmengine 0.11 does). Only local files are
affected: the files you pass to ``--resume``, ``load_from`` or ``init_cfg``.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.utils import digit_version


def load_local_checkpoint(filename: str, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def apply() -> None:
    import mmengine
    if digit_version(torch.__version__) >= digit_version('2.6.0') and \
            digit_version(mmengine.__version__) < digit_version('0.11.0rc0'):
        CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_checkpoint)
