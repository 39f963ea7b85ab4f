from .conv2former import Conv2Former
from .convmae import ConvMAE, ConvMAEDet, ConvMAEViTDet
from .convnext_v2 import ConvNeXtV2
from .hivit import HiViT

__all__ = ['Conv2Former', 'ConvMAE', 'ConvMAEDet', 'ConvMAEViTDet', 'ConvNeXtV2', 'HiViT']
