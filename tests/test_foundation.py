"""Plugin plumbing: registry scopes, config inheritance from other folders, CLI errors, synthetic data."""
import filecmp
import subprocess
import sys
import textwrap

import pytest
import torch

from helpers import ROOT, run_tool


def run_python(code: str, cwd) -> str:
    """Runs ``code`` in a fresh interpreter (nothing of mmconvmae imported beforehand) and returns stdout."""
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_scoped_type_builds_from_every_host_registry_without_imports(tmp_path):
    out = run_python(
        """
        import sys
        from mmengine.registry import init_default_scope
        assert 'mmconvmae.models' not in sys.modules
        import mmdet.registry, mmseg.registry, mmpretrain.registry
        for scope, registry in [('mmdet', mmdet.registry.MODELS), ('mmseg', mmseg.registry.MODELS),
                                ('mmpretrain', mmpretrain.registry.MODELS)]:
            init_default_scope(scope)
            model = registry.build(dict(type='mmconvmae.ConvNeXtV2', arch='atto'))
            print(scope, type(model).__module__, type(model).__name__)
        """, cwd=tmp_path)
    assert out.count('mmconvmae.models.backbones.convnext_v2 ConvNeXtV2') == 3


def test_custom_imports_works(tmp_path):
    (tmp_path / 'cfg.py').write_text("custom_imports = dict(imports=['mmconvmae'], allow_failed_imports=False)\n"
                                     "model = dict(type='mmconvmae.ConvNeXtV2', arch='femto')\n")
    out = run_python(
        """
        from mmengine.config import Config
        from mmengine.registry import MODELS
        cfg = Config.fromfile('cfg.py')
        print(sum(p.numel() for p in MODELS.build(cfg.model).parameters()))
        """, cwd=tmp_path)
    assert int(out) == 4848240


@pytest.mark.parametrize('entry, override, builder', [
    ('mask_rcnn_convnextv2_base_coco.py',
     "model = dict(backbone=dict(arch='atto', init_cfg=None), neck=dict(in_channels=[40, 80, 160, 320]))",
     'mmdet'),
    ('upernet_convnextv2_base_ade20k.py',
     "model = dict(backbone=dict(arch='atto', init_cfg=None), decode_head=dict(in_channels=[40, 80, 160, 320]),"
     " auxiliary_head=dict(in_channels=160))", 'mmseg'),
    ('convnextv2_base_ft_in1k.py',
     "model = dict(backbone=dict(arch='atto', init_cfg=None), head=dict(in_channels=320))", 'mmpretrain'),
])
def test_user_config_outside_the_repo_inherits_ours(tmp_path, entry, override, builder):
    (tmp_path / 'my_config.py').write_text(f"_base_ = 'mmconvmae::{entry}'\n{override}\n")
    out = run_python(
        f"""
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from {builder}.registry import MODELS
        cfg = Config.fromfile('my_config.py')
        assert cfg.default_scope == '{builder}', cfg.default_scope
        init_default_scope(cfg.default_scope)
        model = MODELS.build(cfg.model)
        print(type(model).__name__, type(model.backbone).__name__, cfg.model.backbone.arch)
        """, cwd=tmp_path)
    assert 'ConvNeXtV2 atto' in out


def test_unknown_config_in_package_prefix_is_a_clear_error(tmp_path):
    (tmp_path / 'bad.py').write_text("_base_ = 'mmconvmae::does_not_exist.py'\n")
    proc = subprocess.run([sys.executable, '-c', "from mmengine.config import Config; Config.fromfile('bad.py')"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0 and "no config 'does_not_exist.py' in" in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU refusal of fp16')
def test_cli_rejects_configs_of_unknown_scope_and_fp16_on_cpu(tmp_path):
    (tmp_path / 'cfg.py').write_text("default_scope = 'mmfoo'\n")
    proc = run_tool('train.py', tmp_path / 'cfg.py', check=False)
    assert proc.returncode != 0 and "default_scope must be one of ['mmdet', 'mmpretrain', 'mmseg']" in proc.stderr
    proc = run_tool('train.py', ROOT / 'configs/demo/convnextv2_ft_demo.py', '--amp', '--amp-dtype', 'float16',
                    '--work-dir', tmp_path, check=False)
    assert proc.returncode != 0 and '--amp-dtype float16 needs a GPU' in proc.stderr
    proc = run_tool('train.py', ROOT / 'configs/demo/convnextv2_ft_demo.py', '--amp-dtype', 'bfloat16', check=False)
    assert proc.returncode != 0 and '--amp-dtype needs --amp' in proc.stderr
    proc = run_tool('test.py', ROOT / 'configs/demo/convnextv2_ft_demo.py', tmp_path / 'missing.pth', check=False)
    assert proc.returncode != 0 and 'missing.pth does not exist' in proc.stderr


def test_synthetic_data_is_deterministic(tmp_path):
    for name in ('a', 'b'):
        run_tool('data/make_synthetic.py', '--out', tmp_path / name, '--num-train', '3', '--num-val', '2',
                 '--seed', '7')
    cmp = filecmp.dircmp(tmp_path / 'a', tmp_path / 'b')

    def same(c):
        return not (c.left_only or c.right_only or c.diff_files or c.funny_files) and all(
            same(s) for s in c.subdirs.values())

    assert same(cmp)
    run_tool('data/make_synthetic.py', '--out', tmp_path / 'c', '--num-train', '3', '--num-val', '2', '--seed', '8',
             '--only', 'coco')
    assert (tmp_path / 'a/coco/train2017/000000.jpg').read_bytes() != \
        (tmp_path / 'c/coco/train2017/000000.jpg').read_bytes()
