"""Random masking of a token grid for masked image modelling.

:func:`random_masking` is the official per-sample shuffle of MAE (``random_masking``; github:Alpha-VL/ConvMAE
``models_convmae.py`` L133-160, github:sunsmarterjie/iTPN ``itpn_pixel/models/models_itpn_mim.py`` L193-210
``masking_id``) and of FCMAE (github:facebookresearch/ConvNeXt-V2 ``models/fcmae.py`` L119-135
``gen_random_mask``): per sample, argsort of noise, the ``int(L * (1 - mask_ratio))`` tokens of smallest noise
are kept. The two differ only in the noise: uniform (``torch.rand``, MAE / ConvMAE / iTPN) or standard normal
(``torch.randn``, FCMAE); either draw consumes the random state exactly as the official code does.
"""
from typing import Optional, Tuple

import torch

MASK_NOISES = ('uniform', 'normal')


def random_masking(batch_size: int, num_tokens: int, mask_ratio: float, noise: str = 'uniform', device=None,
                   generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns ``(mask, ids_keep, ids_restore)``.

    - ``mask`` (N, L) float32, **1 = masked (removed), 0 = kept** (the official convention);
    - ``ids_keep`` (N, K) the kept token indices in shuffled order (``ids_shuffle[:, :K]``,
      ``K = int(L * (1 - mask_ratio))``);
    - ``ids_restore`` (N, L): ``cat([kept, masked])`` gathered with it is back in token order.
    """
    if noise not in MASK_NOISES:
        raise ValueError(f'mask noise must be one of {MASK_NOISES}, got {noise!r}')
    len_keep = int(num_tokens * (1 - mask_ratio))
    draw = torch.rand if noise == 'uniform' else torch.randn
    ids_shuffle = draw(batch_size, num_tokens, generator=generator, device=device).argsort(dim=1)
    ids_restore = ids_shuffle.argsort(dim=1)
    mask = torch.ones(batch_size, num_tokens, device=device)
    mask[:, :len_keep] = 0
    return torch.gather(mask, 1, ids_restore), ids_shuffle[:, :len_keep], ids_restore


def mask_to_ids(mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(ids_keep, ids_restore)`` of a given (N, L) mask (1 / True = masked) with the same number of kept tokens
    in every sample: the kept tokens in ascending order, then the masked ones."""
    mask = mask.reshape(mask.shape[0], -1).bool()
    counts = (~mask).sum(1)
    if not bool((counts == counts[0]).all()):
        raise ValueError(f'every sample needs the same number of visible tokens, got {counts.tolist()}')
    ids_shuffle = mask.to(torch.uint8).argsort(dim=1, stable=True)
    return ids_shuffle[:, :int(counts[0])], ids_shuffle.argsort(dim=1)


__all__ = ['MASK_NOISES', 'random_masking', 'mask_to_ids']
