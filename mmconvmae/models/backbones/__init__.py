from .convmae import ConvMAE, ConvMAEDet
from .convnext_v2 import ConvNeXtV2

__all__ = ['ConvMAE', 'ConvMAEDet', 'ConvNeXtV2']
