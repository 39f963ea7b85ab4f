"""Helpers shared by the tests: end-to-end runs of tools/train.py and tools/test.py and their logs, and the tool
scripts as modules."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str):
    """``tools/<name>.py`` (e.g. ``'analysis/fit_probe'``) imported as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location('tools_' + name.replace('/', '_'), ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(script: str, *args, data_root=None, timeout: int = 900, check: bool = True,
             cwd=None) -> subprocess.CompletedProcess:
    """Runs ``tools/<script>`` in a subprocess, with $MMCONVMAE_DATA pointing at ``data_root``."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    if data_root is not None:
        env['MMCONVMAE_DATA'] = str(data_root)
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / script), *map(str, args)], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'tools/{script} {" ".join(map(str, args))} exited with {proc.returncode}\n'
                             f'--- stdout (tail) ---\n{proc.stdout[-4000:]}\n--- stderr (tail) ---\n'
                             f'{proc.stderr[-6000:]}')
    return proc


def short_run_options(iters: int = 2):
    """--cfg-options that cut a demo config (iteration-based) down to ``iters`` iterations, no validation."""
    return ['train_cfg.max_iters=%d' % iters, 'train_cfg.val_interval=100000',
            'default_hooks.checkpoint.interval=%d' % iters, 'default_hooks.logger.interval=1']


def train_and_test(config: str, work_dir: Path, data_root: Path, iters: int = 2, extra=()):
    """Trains ``config`` for ``iters`` iterations with tools/train.py, then evaluates the checkpoint with
    tools/test.py. Returns the test metrics (dict) read from the test run's json log."""
    run_tool('train.py', config, '--work-dir', work_dir, '--cfg-options', *short_run_options(iters), *extra,
             data_root=data_root)
    ckpt = work_dir / f'iter_{iters}.pth'
    assert ckpt.is_file(), f'no checkpoint {ckpt} after training'
    test_dir = work_dir / 'test'
    run_tool('test.py', config, ckpt, '--work-dir', test_dir, data_root=data_root)
    return read_last_metrics(test_dir)


def read_last_metrics(work_dir: Path) -> dict:
    """The last json record of the newest run under ``work_dir`` (mmengine writes <timestamp>/<timestamp>.json)."""
    logs = sorted(work_dir.glob('*/*.json'))
    assert logs, f'no json log under {work_dir}'
    lines = [json.loads(line) for line in logs[-1].read_text().splitlines() if line.strip()]
    assert lines, f'empty json log {logs[-1]}'
    return lines[-1]
