from .itpn_pyramid import iTPNPyramid
from .simple_fpn import SimpleFeaturePyramid

__all__ = ['iTPNPyramid', 'SimpleFeaturePyramid']
