"""iTPN pretraining (Tian et al., CVPR 2023) in mmpretrain: HiViT + the feature pyramid trained together.

- pixel target (``itpn_pixel``): 75% of the 16x16 units are dropped before the stem; the pyramid runs on the
  visible units; its three levels are projected to one 512-d token per unit, summed (:class:`iTPNPixelHead`)
  and decoded by 8 ViT blocks into normalised pixels; MSE on the masked units.
- CLIP target (``itpn_clip``): masked units (BEiT block mask) get ``backbone.mask_token`` after the stem; the
  fused pyramid and an auxiliary branch (2 attention blocks on main block ``0.75 * depth``) regress the tokens
  of a frozen CLIP image encoder (:class:`CLIPTeacher`), SmoothL1 over all tokens (:class:`iTPNCLIPHead`).

Module names follow the official checkpoints (``backbone.*`` official backbone names, ``neck.*`` the pyramid,
``head.*`` ``decoder_*`` / ``lm_head`` ...), so :func:`convert_itpn_official` maps released files here and the
``backbone.`` + ``neck.`` parts of a checkpoint of this model initialise Mask R-CNN and UperNet directly.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmconvmae.registry import MODELS
from ..backbones.hivit import HiViTBlock
from ..utils.checkpoint import extract_state_dict, read_checkpoint
from ..utils.masking import mask_to_ids
from ..utils.pos_embed import resize_pos_embed, sincos_pos_embed
from ..utils.rel_pos import relative_position_index
from .base import MaskedImageModeling, PixelPatchHead, pixel_head_cfg


def fuse_levels(embeds: nn.ModuleList, outs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """Projects pyramid levels (B, K, h, w, F) with ``embeds[k]`` (F -> D / 4^k) to (B, K, D) each."""
    return [embed(o).flatten(2) for embed, o in zip(embeds, outs)]


@MODELS.register_module()
class iTPNPixelHead(PixelPatchHead):
    """Official pixel-target fusion decoder and loss.

    ``decoder_embed[k]`` = LN(F) + Linear(F, D / 4^k) on O16, O8, O4 (one D-dim token per unit each); mask
    tokens appended and un-shuffled per level, summed with the fixed sin-cos ``decoder_pos_embed``;
    ``decoder_blocks`` (ViT, D, 16 heads) -> ``decoder_norm`` -> ``decoder_pred`` (p*p*3 pixels per unit).
    Loss (:class:`PixelPatchHead`, mmpretrain's ``MAEPretrainHead``, the official ``forward_loss``): MSE to
    per-patch normalised pixels (``norm_pix``), mean over masked units.
    """

    def __init__(self, fpn_dim: int = 256, img_size: int = 224, patch_size: int = 16, in_channels: int = 3,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 mlp_ratio: float = 4., norm_pix: bool = True, norm_eps: float = 1e-6, init_cfg=None):
        super().__init__(**pixel_head_cfg(patch_size, in_channels, norm_pix))
        self.init_cfg = copy.deepcopy(init_cfg)  # MAEPretrainHead takes none
        D = decoder_embed_dim
        if D % 16:
            raise ValueError(f'decoder_embed_dim must be divisible by 16 (levels use D, D/4, D/16), got {D}')
        self.grid = img_size // patch_size
        self.decoder_embed = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(fpn_dim, eps=norm_eps), nn.Linear(fpn_dim, D // 4**k)) for k in range(3))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, D))
        # official: MAE's get_2d_sincos_pos_embed (itpn_pixel/models/models_itpn_mim.py L187-188)
        self.decoder_pos_embed = nn.Parameter(sincos_pos_embed(D, (self.grid, self.grid)), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            HiViTBlock(D, decoder_num_heads, mlp_ratio, norm_eps=norm_eps) for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(D, eps=norm_eps)
        self.decoder_pred = nn.Linear(D, patch_size**2 * in_channels)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.mask_token, std=.02)

    def forward(self, outs: Sequence[torch.Tensor], ids_restore: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """``outs`` (O16, O8, O4) of the K visible units -> (B, N, p*p*C) predicted pixels of all units."""
        x = 0
        for level in fuse_levels(self.decoder_embed, outs):
            B, K, D = level.shape
            level = torch.cat([level, self.mask_token.expand(B, ids_restore.shape[1] - K, -1)], dim=1)
            x = x + torch.gather(level, 1, ids_restore[..., None].expand(-1, -1, D))
        # official: the fixed table is added as is (training grid only); other grids: exact-size bicubic resize
        x = x + resize_pos_embed(self.decoder_pos_embed, hw, 'exact').to(x.dtype)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))


@MODELS.register_module()
class iTPNCLIPHead(BaseModule):
    """Official CLIP-target heads (``itpn_clip``).

    Main: ``decoder_embed[k]`` = LN(F) + Linear(F, E / 4^k), summed per unit -> ``norm`` -> ``lm_head``.
    Auxiliary: tokens of main block ``0.75 * depth`` -> ``cls_pt_layers`` (attention blocks with layer scale,
    relative position bias if ``rpe_size``) -> ``norm_cls`` -> ``lm_cls_head``.
    Loss: SmoothL1 of both predictions to the (B, N, teacher_dim) target, over all tokens (official).
    """

    def __init__(self, embed_dims: int = 512, fpn_dim: int = 256, teacher_dim: int = 512, num_heads: int = 8,
                 aux_depth: int = 2, mlp_ratio: float = 4., layer_scale_init_value: float = 0.1,
                 rpe_size: Optional[int] = 14, norm_eps: float = 1e-6, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        E = embed_dims
        if E % 16:
            raise ValueError(f'embed_dims must be divisible by 16, got {E}')
        self.rpe_size = rpe_size
        self.decoder_embed = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(fpn_dim, eps=norm_eps), nn.Linear(fpn_dim, E // 4**k)) for k in range(3))
        self.norm = nn.LayerNorm(E, eps=norm_eps)
        self.lm_head = nn.Linear(E, teacher_dim)
        self.cls_pt_layers = nn.ModuleList(
            HiViTBlock(E, num_heads, mlp_ratio, rpe_size=rpe_size, layer_scale_init_value=layer_scale_init_value,
                       norm_eps=norm_eps) for _ in range(aux_depth))
        self.norm_cls = nn.LayerNorm(E, eps=norm_eps)
        self.lm_cls_head = nn.Linear(E, teacher_dim)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias)

    def forward(self, outs: Sequence[torch.Tensor], mid: torch.Tensor, hw: Tuple[int, int]):
        """-> (main, aux) predictions, each (B, N, teacher_dim)."""
        main = self.lm_head(self.norm(sum(fuse_levels(self.decoder_embed, outs))))
        rpe_index = relative_position_index(*hw, self.rpe_size, mid.device) if self.rpe_size else None
        for blk in self.cls_pt_layers:
            mid = blk(mid, rpe_index)
        return main, self.lm_cls_head(self.norm_cls(mid))

    def loss(self, outs, mid, hw, target: torch.Tensor) -> torch.Tensor:
        main, aux = self(outs, mid, hw)
        if target.shape != main.shape:
            raise ValueError(f'CLIP target {tuple(target.shape)} does not match the prediction {tuple(main.shape)}: '
                             'the teacher must give one token per 16x16 unit and teacher_dim must match its width')
        return F.smooth_l1_loss(main, target) + F.smooth_l1_loss(aux, target)


@MODELS.register_module()
class CLIPTeacher(BaseModule):
    """Frozen CLIP image encoder (mmpretrain's CLIP ``VisionTransformer``) giving iTPN's targets: all patch
    tokens after ``ln_post`` and ``proj``, through a non-affine LayerNorm (official ``get_target``).

    Args:
        width, layers, heads, patch_size, output_dim, input_resolution: the CLIP vision tower (defaults:
            ViT-B/16, 512-d output).
        checkpoint: a CLIP state dict file with ``visual.*`` keys (OpenAI layout, e.g. mmpretrain's
            ``clip_vit_base_16.pth.tar``), loaded strictly by ``init_weights()``; ``None`` keeps the random init
            (tests and demos only).
    """

    def __init__(self, width: int = 768, layers: int = 12, heads: int = 12, patch_size: int = 16,
                 output_dim: int = 512, input_resolution: int = 224, checkpoint: Optional[str] = None):
        super().__init__()
        from mmpretrain.models.utils.clip_generator_helper import VisionTransformer
        self.visual = VisionTransformer(input_resolution, patch_size, width, layers, heads, output_dim)
        self.checkpoint = checkpoint
        for p in self.parameters():
            p.requires_grad = False
        self.eval()

    def init_weights(self):
        if self.checkpoint is not None:
            state = extract_state_dict(read_checkpoint(self.checkpoint))
            state = {k[len('visual.'):]: v for k, v in state.items() if k.startswith('visual.')}
            if not state:
                raise KeyError(f'{self.checkpoint} has no visual.* keys; CLIPTeacher needs a CLIP state dict')
            self.visual.load_state_dict(state, strict=True)
        self._is_init = True

    def train(self, mode: bool = True):
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.visual(x.to(self.visual.conv1.weight.dtype))[0][:, 1:].float()
        return F.layer_norm(tokens, tokens.shape[-1:])


@MODELS.register_module()
class iTPN(MaskedImageModeling):
    """iTPN pretraining.

    Args:
        backbone: :class:`HiViT` (``mask_token=True`` for the CLIP target).
        neck: :class:`iTPNPyramid` with ``out_type='units'`` (the same module and names as downstream).
        head: :class:`iTPNPixelHead` or :class:`iTPNCLIPHead`.
        target: ``'pixel'`` or ``'clip'``.
        mask_ratio: pixel target: fraction of units dropped (0.75; uniform noise as the official ``masking_id``).
            The CLIP target takes the mask from the data samples (``BEiTMaskGenerator`` in the pipeline).
        target_generator: CLIP target: the teacher (:class:`CLIPTeacher`).
    """
    official_mask_ratio = 0.75
    mask_unit = 'unit'

    def __init__(self, backbone: dict, neck: dict, head: dict, target: str = 'pixel', mask_ratio: float = 0.75,
                 target_generator: Optional[dict] = None, data_preprocessor: Optional[dict] = None, init_cfg=None):
        if target not in ('pixel', 'clip'):
            raise ValueError(f"iTPN target must be 'pixel' or 'clip', got {target!r}")
        if target == 'clip' and target_generator is None:
            raise ValueError("iTPN(target='clip') needs a target_generator (e.g. mmconvmae.CLIPTeacher)")
        super().__init__(backbone, neck, head, mask_ratio, target_generator=target_generator,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.target = target

    def mask_patch_size(self) -> int:
        return self.backbone.patch_size

    def reconstruct(self, inputs: torch.Tensor, mask: Optional[torch.Tensor] = None):
        """Pixel target: ``(pred, mask)``, pred (B, N, p*p*C) for all units, mask (B, N) 1 = masked; the masked
        units are dropped right after the stem (a given ``mask`` keeps its visible units in ascending order)."""
        images = self.check_images(inputs)
        if mask is None:
            mask, ids_keep, ids_restore = self.generate_mask(images, with_ids=True)
        else:
            mask = mask.reshape(images.shape[0], -1)
            ids_keep, ids_restore = mask_to_ids(mask)
            mask = mask.to(images.dtype)
        feats, _, hw = self.backbone.forward_units(images, ids_keep=ids_keep)
        return self.head(self.neck.forward_units(*feats), ids_restore, hw), mask

    def loss(self, inputs, data_samples=None, mask: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        if self.target == 'pixel':
            return super().loss(inputs, data_samples, mask)
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('iTPN CLIP target needs two views (student, teacher): use TwoNormDataPreprocessor')
        images, teacher_images = inputs
        if data_samples is None or not all(hasattr(s, 'mask') for s in data_samples):
            raise ValueError('iTPN CLIP target needs a per-sample mask: add BEiTMaskGenerator to the pipeline')
        mask = torch.stack([torch.as_tensor(s.mask) for s in data_samples]).flatten(1).to(images.device)
        # official itpn_clip/modeling_pretrain.py L255: ``if i == int(0.75 * self.depth): aux_out = x`` (0-based)
        mid_block = int(0.75 * self.backbone.num_main_blocks)
        feats, mid, hw = self.backbone.forward_units(images, token_mask=mask, return_block=mid_block)
        target = self.target_generator(teacher_images)
        return dict(loss=self.head.loss(self.neck.forward_units(*feats), mid, hw, target))
