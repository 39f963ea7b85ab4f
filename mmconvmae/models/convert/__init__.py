"""Official-checkpoint converters, one module per family (``convnext_v2``, ``convmae``, ``itpn``, ``conv2former``).

Each module holds the key maps that the models use when they load an official file through ``init_cfg``
(``convert_<family>_official`` and, for the pretraining algorithms, their full-checkpoint variant) and one entry
point ``convert(checkpoint, **options)`` that turns a loaded official checkpoint into the mmconvmae / mmpretrain
layout (``backbone.*``, ``neck.*``, ``head.*``). ``tools/convert/<family>.py`` are thin command lines around it
(:func:`mmconvmae.models.convert.cli.main`).
"""
FAMILIES = ('convnext_v2', 'convmae', 'itpn', 'conv2former')

__all__ = ['FAMILIES']
