from .convmae import ConvMAEDecoder, ConvMAEPretrain, ConvMAEPretrainEncoder, PixelPatchHead
from .fcmae import FCMAE, FCMAEConvNeXtV2, FCMAEDecoder
from .itpn import CLIPTeacher, iTPN, iTPNCLIPHead, iTPNPixelHead

__all__ = ['ConvMAEDecoder', 'ConvMAEPretrain', 'ConvMAEPretrainEncoder', 'PixelPatchHead', 'FCMAE', 'FCMAEConvNeXtV2',
           'FCMAEDecoder', 'CLIPTeacher', 'iTPN', 'iTPNCLIPHead', 'iTPNPixelHead']
