from .fcmae import FCMAE, FCMAEConvNeXtV2, FCMAEDecoder
from .itpn import CLIPTeacher, iTPN, iTPNCLIPHead, iTPNPixelHead

__all__ = ['FCMAE', 'FCMAEConvNeXtV2', 'FCMAEDecoder', 'CLIPTeacher', 'iTPN', 'iTPNCLIPHead', 'iTPNPixelHead']
