"""One name per concept across the four backbone families, the old spellings kept as deprecated aliases."""
import pytest
import torch

from mmconvmae.models import Conv2Former, ConvMAE, ConvNeXtV2, HiViT
from mmconvmae.models.necks import iTPNPyramid
from mmconvmae.models.utils import BaseBackbone, PretrainedModule

CONVMAE = dict(embed_dims=[16, 24, 32], depths=[1, 1, 2], num_heads=2)
HIVIT = dict(embed_dims=32, depths=[1, 1, 2], num_heads=2)
C2F = dict(depths=[1, 1, 1, 1], dims=[8, 16, 24, 32], kernel_size=3)

# (class, arch, kwargs needed for the classification output, default out_type, deprecated alias or None)
FAMILIES = [
    (ConvNeXtV2, 'atto', {}, 'avg_featmap', 'gap_before_final_norm'),
    (ConvMAE, CONVMAE, dict(out_indices=2), 'featmap', 'gap_before_final_norm'),
    (HiViT, HIVIT, dict(img_size=64), 'featmap', None),
    (Conv2Former, C2F, {}, 'avg_featmap', 'with_head'),
]


@pytest.mark.parametrize('cls, arch, kw, default, alias', FAMILIES, ids=lambda v: getattr(v, '__name__', None))
def test_out_type_is_the_classification_switch_of_every_family(cls, arch, kw, default, alias):
    assert cls(arch, **kw).out_type == default
    model = cls(arch, out_type='avg_featmap', **kw).eval()
    out = model(torch.randn(2, 3, 64, 64))
    assert len(out) == 1 and out[0].shape == (2, model.out_channels[0])
    with pytest.raises(ValueError, match="out_type must be 'featmap'.*or 'avg_featmap'"):
        cls(arch, out_type='cls_token', **kw)
    if alias is None:
        return
    for value, new in ((True, 'avg_featmap'), (False, 'featmap')):
        with pytest.warns(DeprecationWarning, match=f'{alias}={value}.* use out_type=.{new}.'):
            old = cls(arch, **{alias: value}, **kw)
        assert old.out_type == new
    torch.manual_seed(0)
    ref = cls(arch, out_type='avg_featmap', **kw).eval()
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning):
        old = cls(arch, **{alias: True}, **kw).eval()
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(old(x), ref(x), rtol=0, atol=0)


def test_rel_pos_bias_names_the_relative_position_tables_in_hivit_and_convmae():
    assert ConvMAE(CONVMAE, rel_pos_bias='per_block').blocks3[0].attn.relative_position_bias_table is not None
    model = HiViT(HIVIT, img_size=64, rel_pos_bias='per_block')
    assert model.blocks[-1].attn.relative_position_bias_table.shape == (7 * 7, 2)
    with pytest.warns(DeprecationWarning, match="rpe=True.* use rel_pos_bias='per_block'"):
        old = HiViT(HIVIT, img_size=64, rpe=True)
    assert old.rel_pos_bias == 'per_block' and old.state_dict().keys() == model.state_dict().keys()
    with pytest.warns(DeprecationWarning, match='use rel_pos_bias=None'):
        assert HiViT(HIVIT, img_size=64, rpe=False).rel_pos_bias is None
    with pytest.raises(ValueError, match="HiViT rel_pos_bias must be None or 'per_block'"):
        HiViT(HIVIT, img_size=64, rel_pos_bias='shared')


def test_check_input_only_validates_and_forward_units_always_returns_three_items():
    x = torch.randn(1, 3, 64, 64)
    for model in (ConvNeXtV2('atto'), ConvMAE(CONVMAE), HiViT(HIVIT, img_size=64), Conv2Former(C2F)):
        assert model.check_input(x) is None
    hivit = HiViT(HIVIT, img_size=64)
    feats, mid, hw = hivit.forward_units(x)
    assert len(feats) == 3 and mid is None and hw == (4, 4)
    feats, mid, hw = hivit.forward_units(x, return_block=0)
    assert mid.shape == (1, 16, 32)


def test_necks_share_the_pretrained_loading_base_not_the_backbone_one():
    neck = iTPNPyramid(in_channels=32, fpn_dim=16)
    assert isinstance(neck, PretrainedModule) and not isinstance(neck, BaseBackbone)
    assert all(isinstance(m, BaseBackbone) for m in (ConvNeXtV2('atto'), HiViT(HIVIT, img_size=64)))
