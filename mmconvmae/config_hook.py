"""``_base_ = 'mmconvmae::<config>'`` for configs of other projects.

mmengine 0.10 resolves ``pkg::path`` only for a fixed list of OpenMMLab packages, and before any plugin is
imported. mmconvmae therefore installs a tiny import hook at interpreter start-up (``mmconvmae.pth`` in
site-packages, a one-line ``import``) that wraps ``mmengine.config.Config._get_cfg_path`` as soon as mmengine's
config module is imported. Nothing else of mmengine is touched and mmengine is not imported early.

``mmconvmae::<path>`` resolves to ``<path>`` under the configs shipped with the package (``mmconvmae/.mim/configs``
in a wheel, the repository's ``configs/`` in an editable install). The base keeps the default scope of the
inheriting config (no ``_scope_`` is injected), which is what our configs expect.
"""
import importlib.abc
import importlib.util
import os.path as osp
import sys

PREFIX = 'mmconvmae::'
_TARGET = 'mmengine.config.config'


def configs_root() -> str:
    """Directory holding the shipped configs."""
    pkg_dir = osp.dirname(osp.abspath(__file__))
    for root in (osp.join(pkg_dir, '.mim', 'configs'), osp.join(osp.dirname(pkg_dir), 'configs')):
        if osp.isdir(root):
            return root
    raise FileNotFoundError(f'mmconvmae configs not found next to {pkg_dir} (looked for .mim/configs and ../configs)')


def resolve(cfg_path: str) -> str:
    """``'mmconvmae::demo/x.py'`` -> absolute path of that config file."""
    rel = cfg_path[len(PREFIX):].lstrip('/')
    if rel.startswith('configs/'):
        rel = rel[len('configs/'):]
    path = osp.join(configs_root(), rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{cfg_path!r}: no config {rel!r} in {configs_root()}')
    return path


def _patch(config_module) -> None:
    config_cls = config_module.Config
    original = config_cls.__dict__['_get_cfg_path']
    if getattr(original, '__mmconvmae__', False):
        return
    original_fn = original.__func__ if isinstance(original, staticmethod) else original

    def _get_cfg_path(cfg_path, filename):
        if isinstance(cfg_path, str) and cfg_path.startswith(PREFIX):
            return resolve(cfg_path), None
        return original_fn(cfg_path, filename)

    _get_cfg_path.__mmconvmae__ = True
    config_cls._get_cfg_path = staticmethod(_get_cfg_path)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Patches mmengine's config module right after it is imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def install() -> None:
    """Enables ``mmconvmae::`` bases in this interpreter (idempotent)."""
    if _TARGET in sys.modules:
        _patch(sys.modules[_TARGET])
    elif not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())
