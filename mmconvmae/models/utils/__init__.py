from .base import (OUT_TYPES, BaseBackbone, PretrainedModule, deprecated_option, drop_path_rates, normalize_indices,
                   resolve_arch, resolve_out_type)
from .build import build_module
from .checkpoint import check_shapes, extract_state_dict, load_pretrained, read_checkpoint
from .layers import GRN, DepthwiseConv2d, LayerNorm2d, depthwise_weight_grad_fft
from .masking import mask_to_ids, random_masking
from .pos_embed import interpolate_pos_encoding, resize_pos_embed, sincos_pos_embed
from .rel_pos import (add_decomposed_rel_pos, decomposed_rel_pos_bias, get_rel_pos, relative_position_bias,
                      relative_position_index, resize_rel_pos_table)

__all__ = [
    'OUT_TYPES', 'BaseBackbone', 'PretrainedModule', 'deprecated_option', 'drop_path_rates', 'normalize_indices',
    'resolve_arch', 'resolve_out_type', 'check_shapes', 'extract_state_dict', 'load_pretrained', 'read_checkpoint',
    'GRN', 'DepthwiseConv2d', 'LayerNorm2d', 'depthwise_weight_grad_fft', 'get_rel_pos', 'decomposed_rel_pos_bias',
    'add_decomposed_rel_pos', 'interpolate_pos_encoding', 'resize_pos_embed', 'sincos_pos_embed',
    'relative_position_bias', 'relative_position_index', 'resize_rel_pos_table', 'build_module', 'random_masking',
    'mask_to_ids'
]
