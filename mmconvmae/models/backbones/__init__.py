from .conv2former import Conv2Former
from .convmae import ConvMAE, ConvMAEDet
from .convnext_v2 import ConvNeXtV2
from .hivit import HiViT

__all__ = ['Conv2Former', 'ConvMAE', 'ConvMAEDet', 'ConvNeXtV2', 'HiViT']
