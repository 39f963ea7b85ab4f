"""Config handling shared by ``tools/train.py`` and ``tools/test.py``: one CLI for mmdet, mmseg and mmpretrain
configs, dispatched on the config's ``default_scope``."""
import contextlib
import glob
import importlib
import logging
import os
import os.path as osp
import re
from typing import List, Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

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


def _has_accelerator() -> bool:
    import torch
    from mmengine.device import is_mlu_available, is_musa_available, is_npu_available
    return torch.cuda.is_available() or is_npu_available() or is_mlu_available() or is_musa_available()


@contextlib.contextmanager
def _without_cuda_set_device():
    """mmengine's ``_init_dist_pytorch`` / ``_init_dist_mpi`` call ``torch.cuda.set_device(local_rank)``, which fails
    on machines without a CUDA driver; there is no device to select there, so it is skipped for that call."""
    import torch
    set_device = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device


def setup_distributed(cfg: Config) -> None:
    """Distributed runs (``--launcher pytorch|slurm|mpi``) on machines without GPU / NPU / MLU: torch.distributed
    with gloo (the config's ``nccl`` cannot work there) and DDP / FSDP wrappers for CPU modules. The process group
    is set up by mmengine's ``init_dist`` as in any run, before the runner (which then finds it initialised).
    With an accelerator nothing changes (NCCL as configured)."""
    if cfg.launcher == 'none' or _has_accelerator():
        return
    import torch.distributed as torch_dist
    from mmengine.dist import init_dist
    env_cfg = ConfigDict(cfg.get('env_cfg') or {})
    dist_cfg = ConfigDict(env_cfg.get('dist_cfg') or {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f"No GPU: torch.distributed backend 'gloo' instead of {dist_cfg.get('backend', 'nccl')!r}",
                  logger='current')
    dist_cfg.backend = 'gloo'
    env_cfg.dist_cfg = dist_cfg
    cfg.env_cfg = env_cfg
    if not torch_dist.is_initialized():
        with _without_cuda_set_device():
            init_dist(cfg.launcher, **dist_cfg)
    if cfg.get('runner_type') == 'FlexibleRunner':  # DDPStrategy / FSDPStrategy pass device_ids=[LOCAL_RANK]
        strategy = ConfigDict(cfg.get('strategy') or dict(type='DDPStrategy'))
        wrapper = ConfigDict(strategy.get('model_wrapper') or {})
        if strategy.get('type') == 'DDPStrategy':
            wrapper.setdefault('type', 'MMDistributedDataParallel')
            wrapper.setdefault('broadcast_buffers', False)
            wrapper.device_ids = None
        elif strategy.get('type') == 'FSDPStrategy':
            wrapper.device_id = 'cpu'  # FSDP on CPU (torch >= 2.4); with GPUs it is LOCAL_RANK
        strategy.model_wrapper = wrapper
        cfg.strategy = strategy
    else:  # Runner.wrap_model: device_ids=[LOCAL_RANK] unless the wrapper config says otherwise
        wrapper = ConfigDict(cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False)))
        wrapper.device_ids = None
        cfg.model_wrapper_cfg = wrapper


_CKPT_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def _run_rank() -> int:
    """The rank of this process from the launcher's environment (before torch.distributed is set up)."""
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def _resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints of ``work_dir``, newest first: the one ``last_checkpoint`` names, then ``iter_N.pth`` /
    ``epoch_N.pth`` by decreasing N (then modification time)."""
    from mmengine.runner import find_latest_checkpoint
    found = []
    latest = find_latest_checkpoint(work_dir)
    if latest:
        found.append(latest if osp.isabs(latest) else osp.join(work_dir, latest))
    files = [f for f in glob.glob(osp.join(work_dir, '*.pth')) if _CKPT_NAME.match(osp.basename(f))]
    files.sort(key=lambda f: (int(_CKPT_NAME.match(osp.basename(f)).group(2)), osp.getmtime(f)), reverse=True)
    found += [f for f in files if osp.abspath(f) not in {osp.abspath(x) for x in found}]
    return found


def _set_aside(path: str) -> str:
    """Renames an unreadable checkpoint to ``<path>.unreadable[.N]`` (nothing is deleted or overwritten), so the
    resumed run does not save over it when it reaches that iteration again."""
    target, n = path + '.unreadable', 1
    while osp.exists(target):
        target, n = f'{path}.unreadable.{n}', n + 1
    os.rename(path, target)
    return target


def resolve_checkpoints(cfg: Config) -> None:
    """Checks the checkpoint a run will load before the runner reads it.

    - ``load_from`` (``tools/test.py CHECKPOINT``, ``--resume CHECKPOINT``): an empty, truncated or non-torch file
      raises naming the file and what is wrong with it.
    - auto-resume (``--resume`` without a path): the newest checkpoint of the work dir that is intact; newer
      unreadable ones are reported with a warning and renamed to ``*.unreadable`` (kept, never overwritten).
    """
    from mmconvmae.models.utils.checkpoint import checkpoint_problem
    load_from = cfg.get('load_from')
    if load_from:
        problem = checkpoint_problem(load_from)
        if problem is not None:
            error = FileNotFoundError if problem == 'the file does not exist' else RuntimeError
            raise error(f'Cannot use the checkpoint {load_from}: {problem}')
        return
    if not cfg.get('resume') or not osp.isdir(cfg.work_dir):
        return
    bad = []
    for path in _resume_candidates(cfg.work_dir):
        problem = checkpoint_problem(path)
        if problem is None:
            if bad:
                print_log(f'Auto-resume: the newest checkpoint(s) of {cfg.work_dir} cannot be read: '
                          + '; '.join(f'{p} ({why})' for p, why in bad)
                          + f'. Resuming from the newest intact one, {path}.', logger='current', level=logging.WARNING)
            cfg.load_from = path
            break
        bad.append((path, problem))
    else:
        if bad:
            raise RuntimeError(f'Auto-resume: no checkpoint of {cfg.work_dir} can be read: '
                               + '; '.join(f'{p} ({why})' for p, why in bad))
    if _run_rank() == 0:
        for path, _ in bad:
            if osp.isfile(path):
                print_log(f'Keeping the unreadable {path} as {_set_aside(path)}', logger='current',
                          level=logging.WARNING)


def build_runner(cfg: Config):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    check_data_roots(cfg)
    os.makedirs(osp.abspath(cfg.work_dir), exist_ok=True)
    resolve_checkpoints(cfg)
    setup_distributed(cfg)
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
