"""What the masked-image-modelling algorithms (FCMAE, ConvMAE, iTPN) share: the normalised-pixel head and the
algorithm skeleton."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.models.selfsup.base import BaseSelfSupervisor

from mmconvmae.registry import MODELS
from ..utils.masking import random_masking


@MODELS.register_module()
class PixelPatchHead(MAEPretrainHead):
    """mmpretrain's ``MAEPretrainHead`` (normalised-pixel target with unbiased variance and eps 1e-6, loss on masked
    patches only) for rectangular images: (N, C, H, W) -> (N, (H/p)(W/p), p*p*C), row-major patches."""

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        p, c = self.patch_size, self.in_channels
        n, _, h, w = imgs.shape
        if h % p or w % p:
            raise ValueError(f'image size {h}x{w} is not divisible by the patch size {p}')
        x = imgs.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(n, (h // p) * (w // p), p * p * c)


def pixel_head_cfg(patch_size: int, in_channels: int = 3, norm_pix: bool = True) -> dict:
    """Keyword arguments of the official loss: MSE to per-patch normalised pixels, mean over the masked patches."""
    return dict(norm_pix=norm_pix, patch_size=patch_size, in_channels=in_channels,
                loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2'))


class MaskedImageModeling(BaseSelfSupervisor):
    """Skeleton of our masked-image-modelling algorithms (mmpretrain ``BaseSelfSupervisor``).

    ``loss(inputs, data_samples, mask=None)``: :meth:`check_images` -> :meth:`reconstruct` (a random mask from
    :meth:`generate_mask` unless ``mask`` is given; masked encoder ``backbone(images, mask)``, then :meth:`decode`)
    -> ``head.loss(pred, images, mask)``. Subclasses give the pixels per mask unit (:meth:`mask_patch_size`) and
    may build their parts with defaults (:meth:`build_parts`). ``mask_ratio`` (None: the official one) must be in
    [0, 1).

    Class attributes: ``official_mask_ratio`` (named in errors), ``mask_noise`` (:func:`random_masking`:
    ``'uniform'`` or ``'normal'``), ``mask_unit`` (``'token'``, ``'cell'``, ``'unit'``: what a mask value covers,
    in errors) and ``square_images`` (images must be square).
    """
    official_mask_ratio: float = 0.75
    mask_noise: str = 'uniform'
    mask_unit: str = 'token'
    square_images: bool = False

    def __init__(self,
                 backbone: Union[dict, nn.Module] = dict(arch='base'),
                 neck: Union[dict, nn.Module, None] = None,
                 head: Union[dict, nn.Module, None] = None,
                 mask_ratio: Optional[float] = None,
                 target_generator: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        mask_ratio = self.official_mask_ratio if mask_ratio is None else mask_ratio
        if not 0 <= mask_ratio < 1:
            raise ValueError(f'{type(self).__name__} mask_ratio must be in [0, 1) (official '
                             f'{self.official_mask_ratio}), got {mask_ratio}')
        backbone, neck, head = self.build_parts(backbone, neck, head)
        super().__init__(backbone=backbone, neck=neck, head=head, target_generator=target_generator,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.mask_ratio = mask_ratio
        self.patch_size = self.mask_patch_size()
        # a head with a ``patch_size`` must predict one patch per mask unit
        head_patch = getattr(self.head, 'patch_size', self.patch_size)
        if head_patch != self.patch_size:
            raise ValueError(f'{type(self).__name__} head patch_size must equal the encoder stride {self.patch_size} '
                             f'(one predicted patch per mask {self.mask_unit}), got {head_patch}')

    def build_parts(self, backbone, neck, head) -> tuple:
        """Hook run before ``BaseSelfSupervisor.__init__`` (no attributes may be set): returns the backbone, neck and
        head, built or as configs for the registry."""
        return backbone, neck, head

    def mask_patch_size(self) -> int:
        """Pixels per side of one mask unit (the encoder's stride where it is masked)."""
        raise NotImplementedError

    def check_images(self, inputs) -> torch.Tensor:
        """Returns the (N, C, H, W) image batch, with a clear error for what the algorithm cannot take."""
        name, p = type(self).__name__, self.patch_size
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'{name} takes one view per image, got {len(inputs)}')
            inputs = inputs[0]
        if inputs.dim() != 4:
            raise ValueError(f'{name} expects images (N, C, H, W), got shape {tuple(inputs.shape)}')
        h, w = inputs.shape[-2:]
        if self.square_images and (h % p or w % p or h != w):
            raise ValueError(f'{name} needs square images with a side that is a multiple of the {p}-pixel mask '
                             f'{self.mask_unit} (e.g. 224), got {h}x{w}')
        if h % p or w % p:
            raise ValueError(f'{name} needs H and W divisible by the {p}-pixel mask unit (e.g. 224), got {h}x{w}')
        return inputs

    def grid(self, images: torch.Tensor) -> Tuple[int, int]:
        """The (h, w) mask grid of an image batch."""
        return images.shape[-2] // self.patch_size, images.shape[-1] // self.patch_size

    def generate_mask(self, images: torch.Tensor, with_ids: bool = False):
        """(N, L) random mask, 1 = masked, L = h * w of :meth:`grid`; with ``with_ids`` the tuple
        ``(mask, ids_keep, ids_restore)`` of :func:`random_masking`."""
        h, w = self.grid(images)
        if int(h * w * (1 - self.mask_ratio)) < 1:
            raise ValueError(f'mask_ratio {self.mask_ratio} leaves no visible {self.mask_unit} out of {h * w} at input '
                             f'{images.shape[-2]}x{images.shape[-1]}; use a lower ratio or a larger input')
        out = random_masking(images.shape[0], h * w, self.mask_ratio, self.mask_noise, device=images.device)
        return out if with_ids else out[0]

    def extract_feat(self, inputs: torch.Tensor):
        """Backbone features of the full (unmasked) images."""
        return self.backbone(self.check_images(inputs))

    def reconstruct(self, inputs: torch.Tensor, mask: Optional[torch.Tensor] = None):
        """Returns ``(pred, mask)``: pred (N, L, p*p*C) for the masked images (``neck`` on ``backbone(images, mask)``,
        :meth:`decode`), mask (N, L) in the images' dtype, 1 = masked."""
        images = self.check_images(inputs)
        if mask is None:
            mask = self.generate_mask(images)
        mask = mask.reshape(images.shape[0], -1)
        return self.decode(self.backbone(images, mask), mask, images), mask.to(images.dtype)

    def decode(self, latent: torch.Tensor, mask: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Predictions (N, L, p*p*C) from the encoder output and the (N, L) mask."""
        return self.neck(latent, mask)

    def loss(self, inputs: torch.Tensor, data_samples=None, mask: Optional[torch.Tensor] = None) -> dict:
        """``dict(loss=head.loss(pred, images, mask))`` for a random (or the given) mask."""
        images = self.check_images(inputs)
        pred, mask = self.reconstruct(images, mask)
        return dict(loss=self.head.loss(pred, images, mask))


__all__ = ['PixelPatchHead', 'pixel_head_cfg', 'MaskedImageModeling']
