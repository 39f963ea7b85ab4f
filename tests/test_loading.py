"""Loading never fails silently: Pretrained checkpoints of the wrong family / with the wrong prefix / covering too
little of the backbone are refused with the file, the family it looks like and the prefix to use; unreadable
checkpoint files are named; auto-resume skips unreadable checkpoints."""
import pytest
import torch
from mmengine.config import Config

from mmconvmae.engine.launch import resolve_checkpoints
from mmconvmae.models import ConvMAE, ConvNeXtV2
from mmconvmae.models.backbones.conv2former import Conv2Former
from mmconvmae.models.backbones.hivit import HiViT
from mmconvmae.models.necks.itpn_pyramid import iTPNPyramid
from mmconvmae.models.utils import load_pretrained
from mmconvmae.models.utils.checkpoint import checkpoint_problem, describe_checkpoint

ATTO = dict(depths=[1, 1, 2, 1], dims=[8, 16, 32, 64])
CONVMAE = dict(embed_dims=[8, 16, 32], depths=[1, 1, 2], num_heads=2)


def convnext(**kwargs):
    return ConvNeXtV2(ATTO, **kwargs)


def save(path, state):
    torch.save(state, path)
    return str(path)


def pretrained(module_fn, checkpoint, **init):
    module = module_fn(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, **init))
    module.init_weights()
    return module


def test_wrong_family_checkpoint_names_file_family_and_fix(tmp_path):
    """A ConvMAE detector checkpoint (mmdet layout) given to ConvNeXt V2: 0 tensors would load."""
    state = {'backbone.' + k: v for k, v in ConvMAE(CONVMAE, img_size=64).state_dict().items()}
    state['rpn_head.rpn_conv.weight'] = torch.zeros(1)
    path = save(tmp_path / 'convmae_det.pth', {'state_dict': state, 'meta': {}})
    with pytest.raises(ValueError) as err:
        pretrained(convnext, path)
    msg = str(err.value)
    for part in (path, 'fills only 0 of the', 'ConvMAE checkpoint', 'an mmdet detector', "under prefix 'backbone.'",
                 'ConvNeXtV2 is a ConvNeXt V2 backbone', 'mmconvmae.ConvMAE'):
        assert part in msg, (part, msg)


def test_right_family_without_its_prefix_names_the_prefix(tmp_path):
    """An mmpretrain classifier checkpoint (``backbone.*`` + ``head.fc.*``) loaded without ``prefix``."""
    own = convnext().state_dict()
    state = {'backbone.' + k: v + 1 for k, v in own.items()}
    state.update({'head.fc.weight': torch.zeros(4, 64), 'head.fc.bias': torch.zeros(4)})
    path = save(tmp_path / 'cls.pth', {'state_dict': state})
    with pytest.raises(ValueError, match=r"an mmpretrain model.*prefix='backbone\.'") as err:
        pretrained(convnext, path)
    assert path in str(err.value)
    model = pretrained(convnext, path, prefix='backbone.')
    assert model.pretrained_report['missing'] == []
    assert all(torch.equal(v, state['backbone.' + k]) for k, v in model.state_dict().items())


def test_absent_prefix_says_which_one_to_use(tmp_path):
    path = save(tmp_path / 'bare.pth', convnext().state_dict())
    with pytest.raises(KeyError, match=r"bare\.pth.*'model\.'.*ConvNeXt V2 checkpoint.*prefix=None"):
        pretrained(convnext, path, prefix='model.')


def test_min_loaded_share(tmp_path):
    """Missing tensors outside expected_missing_keys: refused by default, accepted above min_loaded."""
    state = {k: v for k, v in convnext().state_dict().items() if not k.startswith('stages.3.')}
    path = save(tmp_path / 'partial.pth', state)
    with pytest.raises(ValueError, match=r'fills only \d+ of the \d+ tensors .*min_loaded=1\.0.*'
                                         r'another arch / depth of ConvNeXt V2'):
        pretrained(convnext, path)
    model = pretrained(convnext, path, min_loaded=0.5)
    assert model.pretrained_report['missing'] and all(k.startswith('stages.3.') for k in
                                                      model.pretrained_report['missing'])
    with pytest.raises(ValueError, match='min_loaded must be a share'):
        load_pretrained(convnext(), state, min_loaded=2)


def test_expected_missing_keys_do_not_count(tmp_path):
    """A classification checkpoint into a dense backbone: only the new output norms are missing (documented)."""
    cls = convnext(out_type='avg_featmap').state_dict()
    dense = pretrained(lambda **kw: convnext(out_indices=(0, 1, 2, 3), **kw), save(tmp_path / 'cls.pth', cls))
    assert sorted(dense.pretrained_report['missing']) == sorted(f'norm{i}.{p}' for i in range(3)
                                                                for p in ('weight', 'bias'))


@pytest.mark.parametrize('build, family', [
    (lambda: convnext(), 'ConvNeXt V2'),
    (lambda: ConvMAE(CONVMAE, img_size=64), 'ConvMAE'),
    (lambda: HiViT(dict(embed_dims=32, depths=[1, 1, 2], num_heads=2), img_size=64), 'iTPN / HiViT'),
    (lambda: iTPNPyramid(in_channels=32, fpn_dim=16, fpn_depth=1), 'iTPN / HiViT'),
    (lambda: Conv2Former(dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64], kernel_size=3)), 'Conv2Former'),
])
@pytest.mark.parametrize('prefix, layout', [('', 'a bare backbone / classifier state dict'),
                                            ('backbone.', 'an mmseg segmentor'),
                                            ('backbone.bottom_up.', 'a detectron2 model (e.g. official ConvMAE DET)')])
def test_family_detection(build, family, prefix, layout):
    with torch.device('meta'):
        module = build()
    state = {prefix + k: v for k, v in module.state_dict().items()}
    if prefix == 'backbone.':
        state['decode_head.conv_seg.weight'] = torch.zeros(1)
    assert describe_checkpoint(state)[:2] == (family, prefix) and describe_checkpoint(state)[3] == layout
    assert module.checkpoint_family == family


@pytest.mark.parametrize('content, problem', [
    (b'', 'the file is empty'),
    (b'hello, not a checkpoint', 'not a PyTorch checkpoint'),
    (None, 'truncated'),
])
def test_unreadable_checkpoint_files_are_named(tmp_path, content, problem):
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': convnext().state_dict()}, good)
    assert checkpoint_problem(str(good)) is None
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(good.read_bytes()[:good.stat().st_size // 2] if content is None else content)
    assert problem in checkpoint_problem(str(bad))
    with pytest.raises(RuntimeError, match=f'Cannot read the checkpoint {bad}: {problem}'):
        pretrained(convnext, str(bad))
    cfg = Config(dict(load_from=str(bad), resume=True, work_dir=str(tmp_path)))
    with pytest.raises(RuntimeError, match=f'Cannot use the checkpoint {bad}: {problem}'):
        resolve_checkpoints(cfg)


def test_auto_resume_skips_unreadable_checkpoints_and_keeps_them(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    torch.save({'state_dict': {}}, work / 'iter_2.pth')
    for name in ('iter_4.pth', 'iter_4.pth.unreadable', 'iter_6.pth'):
        (work / name).write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'iter_6.pth'))
    cfg = Config(dict(load_from=None, resume=True, work_dir=str(work)))
    resolve_checkpoints(cfg)
    assert cfg.load_from == str(work / 'iter_2.pth')
    # nothing overwritten or deleted: the unreadable files are renamed next to an existing *.unreadable
    assert sorted(p.name for p in work.iterdir()) == ['iter_2.pth', 'iter_4.pth.unreadable',
                                                      'iter_4.pth.unreadable.1', 'iter_6.pth.unreadable',
                                                      'last_checkpoint']
    (work / 'iter_2.pth').write_bytes(b'\x00')
    with pytest.raises(RuntimeError, match=r'no checkpoint of .*work can be read.*iter_2\.pth \(not a PyTorch'):
        resolve_checkpoints(Config(dict(load_from=None, resume=True, work_dir=str(work))))


def test_missing_checkpoint_file():
    with pytest.raises(FileNotFoundError, match='Cannot use the checkpoint /nonexistent.pth: the file does not'):
        resolve_checkpoints(Config(dict(load_from='/nonexistent.pth', resume=False, work_dir='/tmp')))
