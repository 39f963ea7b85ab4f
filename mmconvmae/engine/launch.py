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


def enable_amp(cfg: Config, dtype: Optional[str] = None, train: bool = True) -> Optional[str]:
    """``--amp [--amp-dtype DTYPE]``: mixed precision for training (``train=True``) and validation / testing.

    - GPU (CUDA, NPU, MLU): mmengine's ``AmpOptimWrapper`` with dynamic loss scaling, autocast to ``dtype``
      (default: mmengine's, i.e. float16).
    - CPU: ``mmconvmae.AutocastOptimWrapper`` (bf16 autocast, no loss scaling) when the CPU computes bf16 natively
      (AMX or AVX512-BF16); otherwise fp32 with one log line, as bf16 emulated in fp32 is slower than fp32.
      ``dtype='bfloat16'`` forces bf16 on any CPU; ``float16`` is refused on CPU.

    Validation and testing run under autocast too (``val_cfg`` / ``test_cfg`` ``fp16=True``: mmengine's loops
    autocast to the device's default dtype, bf16 on CPU, float16 on a GPU; left off for bf16 training on a GPU).
    Returns the dtype chosen, or ``None`` for fp32.
    """
    from mmengine.device import is_cuda_available, is_mlu_available, is_npu_available
    from mmengine.logging import print_log

    from mmconvmae.engine.optimizers.amp import cpu_bf16_support, cpu_instruction_set
    if dtype not in (None, 'float16', 'bfloat16'):
        raise ValueError(f"--amp-dtype must be 'float16' or 'bfloat16', got {dtype!r}")
    if train and 'optim_wrapper' not in cfg:
        raise RuntimeError('--amp needs an optim_wrapper in the config')
    on_gpu = is_cuda_available() or is_npu_available() or is_mlu_available()
    if on_gpu:
        chosen = dtype or 'float16'
        if train:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
            if dtype is not None:
                cfg.optim_wrapper.dtype = dtype
    elif dtype == 'float16':
        raise RuntimeError('--amp-dtype float16 needs a GPU (loss scaling with a CUDA GradScaler); on CPU use '
                           '--amp (bf16 where the CPU supports it) or --amp-dtype bfloat16')
    else:
        native = cpu_bf16_support()
        if native is None and dtype is None:
            print_log(f'--amp: this CPU has no native bf16 ({cpu_instruction_set()}); running in fp32 '
                      '(--amp-dtype bfloat16 forces emulated bf16, usually slower)', logger='current')
            return None
        chosen = 'bfloat16'
        if train:
            wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper').split('.')[-1]
            if wrapper not in ('OptimWrapper', 'AmpOptimWrapper', 'AutocastOptimWrapper'):
                raise RuntimeError('--amp on CPU replaces (Amp)OptimWrapper by mmconvmae.AutocastOptimWrapper; the '
                                   f'config uses {cfg.optim_wrapper.type}')
            for key in ('loss_scale', 'use_fsdp'):  # AmpOptimWrapper's GradScaler settings (entry configs)
                cfg.optim_wrapper.pop(key, None)
            cfg.optim_wrapper.type = 'mmconvmae.AutocastOptimWrapper'
            cfg.optim_wrapper.dtype = chosen
        print_log(f'--amp: bf16 autocast on CPU ({native or "emulated"}; {cpu_instruction_set()})',
                  logger='current')
    for loop in ('val_cfg', 'test_cfg'):
        if cfg.get(loop) is not None and chosen == ('float16' if on_gpu else 'bfloat16'):
            cfg[loop].fp16 = True
    return chosen


def enable_compile(cfg: Config, mode: str = 'default') -> None:
    """``--compile [MODE]``: mmengine's ``cfg.compile`` (``torch.compile`` of ``model.train_step``); a dict already
    in the config keeps its options and gets ``mode`` unless MODE is ``default``."""
    compile_cfg = cfg.get('compile')
    compile_cfg = dict(compile_cfg) if isinstance(compile_cfg, dict) else {}
    if mode != 'default':
        compile_cfg['mode'] = mode
    cfg.compile = compile_cfg or True


def compile_test_step(runner) -> None:
    """``tools/test.py --compile``: mmengine compiles only ``train_step`` (in ``Runner.train``); this compiles
    ``test_step`` the same way, with the same ``cfg.compile`` options."""
    runner._maybe_compile('test_step')


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
