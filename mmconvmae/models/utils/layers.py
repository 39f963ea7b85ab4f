"""Building blocks shared by the model families."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dim of an NCHW tensor: (N, C, H, W) -> (N, C, H, W).

    Parameters are named ``weight``/``bias`` with shape (C,), like the channels-first LayerNorm of the
    official ConvNeXt V2 and ConvMAE code, so their checkpoints load as they are.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'LayerNorm2d expects an (N, C, H, W) tensor, got shape {tuple(x.shape)}')
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class GRN(nn.Module):
    """Global Response Normalization of ConvNeXt V2 on channels-last input (N, H, W, C).

    ``out = x + gamma * x * Nx + beta`` with ``Gx = ||x||_2`` over H, W and ``Nx = Gx / (mean_C(Gx) + eps)``.
    Statistics are always computed in fp32, also under autocast: the spatial sum of squares of post-GELU
    activations overflows fp16 (ConvNeXt-V2#66).

    ``gamma``/``beta`` have shape (C,). The official (1, 1, 1, C) and Minkowski (1, C) shapes are reshaped
    on load, so official checkpoints load without conversion.

    Args:
        dim: number of channels C.
        eps: added to the channel mean of Gx (official value 1e-6).
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor, visible: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (N, H, W, C). visible: optional (N, H, W, 1) with 1 at visible positions; masked positions are
        left out of Gx, as in the sparse (MinkowskiEngine) encoder. Returns (N, H, W, C) in x.dtype."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            xf = x.float()
            gx = torch.linalg.vector_norm(xf if visible is None else xf * visible.float(), dim=(1, 2), keepdim=True)
            nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
            out = torch.addcmul(self.beta.float(), self.gamma.float(), xf * nx) + xf
        return out.to(x.dtype)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ('gamma', 'beta'):
            key = prefix + name
            if key in state_dict and state_dict[key].dim() > 1 and state_dict[key].numel() == self.dim:
                state_dict[key] = state_dict[key].reshape(self.dim)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f'{self.dim}, eps={self.eps}'
