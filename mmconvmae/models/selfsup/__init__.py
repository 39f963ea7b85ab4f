from .convmae import ConvMAEDecoder, ConvMAEPretrain, ConvMAEPretrainEncoder, PixelPatchHead
from .fcmae import FCMAE, FCMAEConvNeXtV2, FCMAEDecoder

__all__ = ['ConvMAEDecoder', 'ConvMAEPretrain', 'ConvMAEPretrainEncoder', 'PixelPatchHead', 'FCMAE', 'FCMAEConvNeXtV2',
           'FCMAEDecoder']
