"""tools/dist_train.sh on a CPU-only machine (2 gloo processes), the FSDP path (--strategy fsdp) and auto-resume
falling back to the newest intact checkpoint, on a few iterations of the ConvNeXt V2 fine-tuning demo."""
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import ROOT, run_tool

ITERS = 3
BATCH = 4  # total batch: one process with 4 images = two processes with 2 each

# The demo without what is random per process (mixup / cutmix, random crops and flips, drop path), seeded, so two
# processes with half the batch each must reproduce one process with the whole batch. The ConvNeXt V2 demo has no
# BatchNorm (whose statistics would be per process) and uses mmconvmae's layer-decay optimizer constructor.
CONFIG = '''
_base_ = {base!r}
model = dict(backbone=dict(drop_path_rate=0.0), train_cfg=None)
train_dataloader = dict(batch_size={batch}, dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs')]))
train_cfg = dict(max_iters={iters}, val_interval=100000)
val_cfg = None
val_dataloader = None
val_evaluator = None
# mmengine's plain CheckpointHook: every checkpoint keeps the optimizer state, so that the auto-resume fall-back to
# an earlier one continues exactly (the demo's LastOptimizerCheckpointHook keeps it in the last checkpoint only)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=False,
                                                              interval=1, max_keep_ckpts=-1))
# SGD at a constant, large lr: a wrong layer-decay or weight-decay group shows in the weights. (AdamW turns the
# last-bit noise of gradients that are ~0, e.g. of the 7x7 depthwise kernels on the 2x2 stage-3 map, into full
# lr steps: 5.7e-3 apart after 3 iterations at lr 1e-2, while all other tensors agree to 2e-5.)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.1, momentum=0.9, weight_decay=0.05))
param_scheduler = None
randomness = dict(seed=0)
load_from = {init!r}
'''


def write_config(path: Path, batch: int, init: Path) -> Path:
    path.write_text(CONFIG.format(base=str(ROOT / 'configs/demo/convnextv2_ft_demo.py'), batch=batch, iters=ITERS,
                                  init=str(init)))
    return path


def initial_weights(path: Path) -> Path:
    """The demo model's initial weights, loaded by every run: the Runner and FlexibleRunner initialise the model
    at different points of the random stream."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    cfg = Config.fromfile(ROOT / 'configs/demo/convnextv2_ft_demo.py')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch(script: str, *args, data_root: Path) -> subprocess.CompletedProcess:
    """bash tools/<script> with this interpreter's environment as the project venv (MMCONVMAE_VENV)."""
    env = dict(os.environ, MMCONVMAE_VENV=str(Path(sys.executable).parent.parent), MMCONVMAE_DATA=str(data_root),
               PORT=str(free_port()), PYTHONWARNINGS='ignore')
    proc = subprocess.run(['bash', str(ROOT / 'tools' / script), *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'{script} exited with {proc.returncode}\n{proc.stdout[-3000:]}\n' \
                                 f'{proc.stderr[-6000:]}'
    return proc


def dist_train(config: Path, work_dir: Path, procs: int, data_root: Path, *args) -> subprocess.CompletedProcess:
    return launch('dist_train.sh', config, procs, '--work-dir', work_dir, *args, data_root=data_root)


def weights(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


@pytest.fixture(scope='module')
def init(tmp_path_factory) -> Path:
    return initial_weights(tmp_path_factory.mktemp('init') / 'init.pth')


@pytest.fixture(scope='module')
def single(tmp_path_factory, synthetic_data, init):
    """One process, the whole batch: the reference run (checkpoints after every iteration)."""
    tmp = tmp_path_factory.mktemp('single')
    run_tool('train.py', write_config(tmp / 'cfg.py', BATCH, init), '--work-dir', tmp / 'work',
             data_root=synthetic_data)
    return tmp / 'work'


def test_two_gloo_processes_equal_one_process_with_the_same_total_batch(single, init, tmp_path, synthetic_data):
    proc = dist_train(write_config(tmp_path / 'cfg.py', BATCH // 2, init), tmp_path / 'work', 2, synthetic_data)
    assert "backend 'gloo'" in proc.stdout + proc.stderr
    for it in range(1, ITERS + 1):
        diff = max_difference(weights(single / f'iter_{it}.pth'), weights(tmp_path / 'work' / f'iter_{it}.pth'))
        print(f'iteration {it}: max |w(1 process, batch {BATCH}) - w(2 processes, batch {BATCH // 2} each)| = '
              f'{diff:.3g}')
        assert diff < 1e-5, (it, diff)
    test = launch('dist_test.sh', tmp_path / 'cfg.py', tmp_path / 'work' / f'iter_{ITERS}.pth', 2, '--work-dir',
                  tmp_path / 'test', data_root=synthetic_data)
    assert 'accuracy/top1' in test.stdout + test.stderr


def test_fsdp_on_two_gloo_processes(single, init, tmp_path, synthetic_data):
    """--strategy fsdp: FlexibleRunner + FSDPStrategy (our blocks as FSDP units, layer decay on the original
    parameters); rank 0 saves a full state dict with the plain names, equal to the one-process run."""
    dist_train(write_config(tmp_path / 'cfg.py', BATCH // 2, init), tmp_path / 'work', 2, synthetic_data,
               '--strategy', 'fsdp')
    ckpt = tmp_path / 'work' / f'iter_{ITERS}.pth'
    assert ckpt.is_file(), sorted(os.listdir(tmp_path / 'work'))
    diff = max_difference(weights(single / f'iter_{ITERS}.pth'), weights(ckpt))
    print(f'FSDP, 2 processes: max weight difference to 1 process after {ITERS} iterations = {diff:.3g}')
    assert diff < 1e-5, diff


def test_auto_resume_falls_back_to_the_newest_intact_checkpoint(single, init, tmp_path, synthetic_data):
    """The last checkpoint is truncated: --resume continues from the one before, keeps the bad file (renamed) and
    ends with the same weights as the uninterrupted run."""
    work = tmp_path / 'work'
    work.mkdir()
    for it in range(1, ITERS):
        shutil.copy(single / f'iter_{it}.pth', work)
    data = (single / f'iter_{ITERS}.pth').read_bytes()
    (work / f'iter_{ITERS}.pth').write_bytes(data[:len(data) // 2])
    (work / 'last_checkpoint').write_text(str(work / f'iter_{ITERS}.pth'))
    proc = run_tool('train.py', write_config(tmp_path / 'cfg.py', BATCH, init), '--work-dir', work, '--resume',
                    data_root=synthetic_data)
    log = proc.stdout + proc.stderr
    assert f'iter_{ITERS}.pth (truncated' in log and f'newest intact one, {work / f"iter_{ITERS - 1}.pth"}' in log
    assert (work / f'iter_{ITERS}.pth.unreadable').read_bytes() == data[:len(data) // 2]
    assert max_difference(weights(single / f'iter_{ITERS}.pth'), weights(work / f'iter_{ITERS}.pth')) == 0
