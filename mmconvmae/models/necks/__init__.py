from .itpn_pyramid import iTPNPyramid

__all__ = ['iTPNPyramid']
