from .base import MaskedImageModeling, PixelPatchHead
from .convmae import ConvMAEDecoder, ConvMAEPretrain, ConvMAEPretrainEncoder
from .fcmae import FCMAE, FCMAEConvNeXtV2, FCMAEDecoder
from .itpn import CLIPTeacher, iTPN, iTPNCLIPHead, iTPNPixelHead

__all__ = [
    'MaskedImageModeling', 'PixelPatchHead', 'ConvMAEDecoder', 'ConvMAEPretrain', 'ConvMAEPretrainEncoder', 'FCMAE',
    'FCMAEConvNeXtV2', 'FCMAEDecoder', 'CLIPTeacher', 'iTPN', 'iTPNCLIPHead', 'iTPNPixelHead'
]
