from .convnext_v2 import ConvNeXtV2

__all__ = ['ConvNeXtV2']
