from .base import BaseBackbone, drop_path_rates, normalize_indices, resolve_arch
from .checkpoint import check_shapes, extract_state_dict, load_pretrained, read_checkpoint
from .layers import GRN, LayerNorm2d

__all__ = [
    'BaseBackbone', 'drop_path_rates', 'normalize_indices', 'resolve_arch', 'check_shapes', 'extract_state_dict', 'load_pretrained',
    'read_checkpoint', 'GRN', 'LayerNorm2d'
]
