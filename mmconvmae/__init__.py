"""mmconvmae: ConvNeXt V2, ConvMAE, iTPN and Conv2Former for OpenMMLab.

Importing the package is cheap: models register themselves when a config names ``mmconvmae.<Model>``
(see :mod:`mmconvmae.registry`), or on ``import mmconvmae.models``.
"""
from . import config_hook
from .version import __version__

config_hook.install()

__all__ = ['__version__']
