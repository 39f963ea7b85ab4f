from .fcmae import FCMAE, FCMAEConvNeXtV2, FCMAEDecoder

__all__ = ['FCMAE', 'FCMAEConvNeXtV2', 'FCMAEDecoder']
