"""Config handling shared by ``tools/train.py`` and ``tools/test.py``: one CLI for mmdet, mmseg and mmpretrain
configs, dispatched on the config's ``default_scope``."""
import importlib
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config

#: default_scope -> (package, what it trains, pickle-dump metric for --out)
SCOPES = {
    'mmdet': ('mmdet', 'detector', 'mmdet.DumpDetResults'),
    'mmseg': ('mmseg', 'segmentor', None),
    'mmpretrain': ('mmpretrain', 'classifier / self-supervised model', 'mmpretrain.DumpResults'),
}


def load_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Reads a config, checks its ``default_scope``, imports that package and applies the common CLI options."""
    import mmconvmae  # noqa: F401  (``mmconvmae::`` bases and checkpoint compatibility)
    import mmconvmae.registry  # noqa: F401
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise ValueError(f'{path}: default_scope must be one of {sorted(SCOPES)} (the project that runs the '
                         f'config), got {scope!r}')
    importlib.import_module(SCOPES[scope][0])
    if scope == 'mmdet':
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        setup_cache_size_limit_of_dynamo()
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def check_data_roots(cfg: Config) -> None:
    """A clear error naming ``tools/data/make_synthetic.py`` and ``MMCONVMAE_DATA`` when the synthetic demo data
    that a dataloader reads is missing."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        root = ((cfg.get(name) or {}).get('dataset') or {}).get('data_root')
        if isinstance(root, str) and 'synthetic' in root and not osp.exists(root):
            raise FileNotFoundError(
                f'{cfg.filename}: {name}.dataset.data_root {root!r} does not exist. Write the synthetic demo '
                f'data with `python tools/data/make_synthetic.py --out {root.split("/synthetic")[0]}/synthetic` '
                '(about 10 s), or point MMCONVMAE_DATA at a folder that holds it (tools/demo.sh does both).')


def enable_amp(cfg: Config) -> None:
    """``--amp``: mixed precision through mmengine's ``AmpOptimWrapper`` (needs a CUDA, NPU or MLU device)."""
    from mmengine.device import is_cuda_available, is_mlu_available, is_npu_available
    if not (is_cuda_available() or is_npu_available() or is_mlu_available()):
        raise RuntimeError('--amp needs a CUDA, NPU or MLU device (mmengine AmpOptimWrapper); none is available. '
                           'Run without --amp on CPU.')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """``--show-dir``: draw test predictions to PNG files under ``show_dir``."""
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise RuntimeError('--show-dir needs default_hooks.visualization in the config')
    vis = hooks['visualization']
    if cfg.default_scope == 'mmdet':
        vis['draw'] = True
        vis['test_out_dir'] = osp.abspath(show_dir)
    elif cfg.default_scope == 'mmseg':
        vis['draw'] = True
        cfg.visualizer['save_dir'] = osp.abspath(show_dir)
    else:  # mmpretrain's VisualizationHook has no `draw` (it passes unknown keys on to the visualizer)
        vis['enable'] = True
        vis['out_dir'] = osp.abspath(show_dir)


def enable_tta(cfg: Config) -> None:
    """``--tta``: wrap the model in the config's ``tta_model`` and test with its ``tta_pipeline``."""
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise RuntimeError(f'--tta needs {missing} in the config')
    from mmengine.config import ConfigDict
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def build_runner(cfg: Config):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    check_data_roots(cfg)
    os.makedirs(osp.abspath(cfg.work_dir), exist_ok=True)
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
