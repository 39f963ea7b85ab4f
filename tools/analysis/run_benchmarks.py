"""Runs every speed / memory comparison of mmconvmae against its reference and writes ``docs/benchmarks.md``.

    python tools/analysis/run_benchmarks.py                 # all comparisons, CPU (or the GPU when visible)
    python tools/analysis/run_benchmarks.py --only convnext # re-run those whose key contains 'convnext' (the
                                                            # other rows keep their results, docs/benchmarks.json)
    python tools/analysis/run_benchmarks.py --quick         # 2 repeats: a smoke run
    python tools/analysis/run_benchmarks.py --only mode_ --list  # the precision / compilation rows' commands

Each comparison is one command of ``tools/analysis/benchmark.py`` (ours vs a reference built from the same
config with ``--reference-options``, weights copied so both compute the same function) or of
``tools/analysis/benchmark_fcmae.py``; both interleave the two models step by step and report ratios of medians,
so load from other processes hits both alike. The report lists each ratio with the exact command that gave it.
"""
import argparse
import json
import platform
import shlex
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from mmconvmae.engine.optimizers.amp import cpu_instruction_set

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / 'docs' / 'benchmarks.md'
RESULTS = ROOT / 'docs' / 'benchmarks.json'  # raw results; a partial run (--only) replaces its rows only

# key -> (title, script, arguments). Batch sizes are small so that a CPU run takes minutes, not hours.
COMPARISONS = {
    'convnextv2_vs_mmpretrain': (
        'ConvNeXt V2-B backbone: ours vs mmpretrain `ConvNeXt(use_grn=True)`, same weights', 'benchmark.py', [
            'configs/convnextv2_base_ft_in1k.py', '--part', 'backbone', '--shape', '224', '--batch', '2',
            '--copy-weights', '--reference-options', 'model.backbone._delete_=True',
            'model.backbone.type=mmpretrain.ConvNeXt', 'model.backbone.arch=base', 'model.backbone.drop_path_rate=0.1',
            'model.backbone.use_grn=True', 'model.backbone.layer_scale_init_value=0.0'
        ]),
    'convnextv2_channels_last': (
        'ConvNeXt V2-B backbone: channels_last vs NCHW (ours)', 'benchmark.py', [
            'configs/convnextv2_base_ft_in1k.py', '--part', 'backbone', '--shape', '224', '--batch', '2',
            '--channels-last'
        ]),
    'fcmae_masked_vs_full': (
        'FCMAE ConvNeXt V2-B encoder step: 60% masked (sparse-equivalent) vs full image', 'benchmark_fcmae.py',
        ['--arch', 'base', '--batch', '4', '--size', '224', '--variants', 'full,sparse', '--repeats', '5']),
}


def register(key: str, title: str, script: str, args) -> None:
    """Adds a comparison to the table."""
    COMPARISONS[key] = (title, script, list(args))


def _optional_comparisons() -> None:
    """Comparisons whose configs belong to families that may not be present in a partial checkout."""
    cfg = ROOT / 'configs'
    if (cfg / 'itpn_base_ft_in1k.py').is_file():
        register('hivit_vs_mmpretrain',
                 'HiViT-B (mmpretrain\'s 4/4/24 arch, rpe) backbone: ours vs mmpretrain `HiViT` (the backbone of its '
                 '`iTPNHiViT`), same weights', 'benchmark.py', [
                     'configs/_base_/benchmark/hivit_mmpretrain_base.py', '--part', 'backbone', '--shape', '224',
                     '--batch', '2', '--copy-weights', '--reference-options', 'model.backbone._delete_=True',
                     'model.backbone.type=mmpretrain.HiViT', 'model.backbone.arch=base', 'model.backbone.rpe=True'
                 ])
    if (cfg / 'mask_rcnn_convmae_base_coco.py').is_file():
        register('convmae_window_vs_global',
                 'ConvMAE-B detection backbone at 1024x1024: windowed (4 global blocks) vs all-global attention',
                 'benchmark.py', [
                     'configs/mask_rcnn_convmae_base_coco.py', '--part', 'backbone', '--shape', '1024',
                     '--batch', '1', '--mode', 'forward', '--repeats', '3', '--reference-options',
                     'model.backbone.window_size=None'
                 ])
    if (cfg / 'conv2former_tiny_in1k.py').is_file():
        register('conv2former_vs_convnext', 'Conv2Former-T vs mmpretrain ConvNeXt-T backbone (different models)',
                 'benchmark.py', [
                     'configs/conv2former_tiny_in1k.py', '--part', 'backbone', '--shape', '224', '--batch', '2',
                     '--reference-options', 'model.backbone._delete_=True', 'model.backbone.type=mmpretrain.ConvNeXt',
                     'model.backbone.arch=tiny'
                 ])
        official = ['model.backbone.channels_last=False', 'model.backbone.dw_weight_grad=native']
        register('conv2former_official_vs_convnext',
                 'Conv2Former-T in the official layout (NCHW, native depthwise backward) vs mmpretrain ConvNeXt-T',
                 'benchmark.py', [
                     'configs/conv2former_tiny_in1k.py', '--part', 'backbone', '--shape', '224', '--batch', '2',
                     '--ours-options', *official, '--reference-options', 'model.backbone._delete_=True',
                     'model.backbone.type=mmpretrain.ConvNeXt', 'model.backbone.arch=tiny'
                 ])
        register('conv2former_fast_vs_official',
                 'Conv2Former-T: default (channels-last blocks, FFT depthwise weight grad) vs official layout, '
                 'same weights', 'benchmark.py', [
                     'configs/conv2former_tiny_in1k.py', '--part', 'backbone', '--shape', '224', '--batch', '2',
                     '--copy-weights', '--reference-options', *official
                 ])
    _mode_comparisons()


#: (key prefix, title, benchmark.py arguments of ours vs mmpretrain (None: no mmpretrain counterpart), arguments of
#: ours alone) of the precision / compilation rows
MODE_MODELS = (
    ('convnextv2', 'ConvNeXt V2-B backbone', 'convnextv2_base_ft_in1k.py',
     ['--part', 'backbone', '--shape', '224', '--batch', '2'], [
         '--copy-weights', '--reference-options', 'model.backbone.type=mmpretrain.ConvNeXt',
         'model.backbone.use_grn=True', 'model.backbone.layer_scale_init_value=0.0'
     ]),
    ('hivit', 'HiViT-B (mmpretrain arch) backbone', '_base_/benchmark/hivit_mmpretrain_base.py',
     ['--part', 'backbone', '--shape', '224', '--batch', '2'], [
         '--copy-weights', '--reference-options', 'model.backbone._delete_=True',
         'model.backbone.type=mmpretrain.HiViT', 'model.backbone.arch=base', 'model.backbone.rpe=True'
     ]),
    ('convmae_det', 'ConvMAE-B detection backbone at 1024x1024', 'mask_rcnn_convmae_base_coco.py',
     ['--part', 'backbone', '--shape', '1024', '--batch', '1', '--repeats', '3'], None),
    ('conv2former', 'Conv2Former-T backbone (mmpretrain: ConvNeXt-T, a different model)', 'conv2former_tiny_in1k.py',
     ['--part', 'backbone', '--shape', '224', '--batch', '2'], [
         '--reference-options', 'model.backbone._delete_=True', 'model.backbone.type=mmpretrain.ConvNeXt',
         'model.backbone.arch=tiny'
     ]),
)
#: (key suffix, title, our flags, reference flags)
MODES = (('fp32', 'fp32 eager', [], []), ('bf16', 'bf16 autocast', ['--dtype', 'bf16'], ['--reference-dtype', 'bf16']),
         ('compiled', 'fp32 compiled', ['--compile'], ['--reference-compile']),
         ('bf16_compiled', 'bf16 compiled', ['--dtype', 'bf16', '--compile'],
          ['--reference-dtype', 'bf16', '--reference-compile']))


def _mode_comparisons() -> None:
    """fp32 vs bf16 autocast and eager vs compiled (ours, same weights), and ours vs mmpretrain with both sides in the
    same mode, for each model of :data:`MODE_MODELS` whose config is present."""
    modes = {key: (title, ours, ref) for key, title, ours, ref in MODES}
    for key, title, config, common, vs_mmpretrain in MODE_MODELS:
        if not (ROOT / 'configs' / config).is_file():
            continue
        args = ['configs/' + config, *common]
        register(f'mode_{key}_bf16_vs_fp32', f'{title}: bf16 autocast vs fp32 (ours)', 'benchmark.py',
                 args + modes['bf16'][1])
        register(f'mode_{key}_compiled_vs_eager', f'{title}: torch.compile vs eager, fp32 (ours)', 'benchmark.py',
                 args + modes['compiled'][1])
        if vs_mmpretrain is None:
            continue
        for mode in ('bf16', 'compiled', 'bf16_compiled'):
            mode_title, ours, ref = modes[mode]
            register(f'mode_{key}_vs_mmpretrain_{mode}', f'{title}: ours vs mmpretrain, both {mode_title}',
                     'benchmark.py', args + ours + ref + vs_mmpretrain)


def machine() -> str:
    if torch.cuda.is_available():
        return f'{torch.cuda.get_device_name()}, torch {torch.__version__}'
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo') if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}'


def run_one(key: str, quick: bool, tmp: Path) -> dict:
    title, script, args = COMPARISONS[key]
    args = list(args)
    if quick:  # 2 repeats, 1 warm-up round
        for flag in ('--repeats', '--warmup'):
            if flag in args:
                del args[args.index(flag):args.index(flag) + 2]
        args += ['--repeats', '2', '--warmup', '1']
    out = tmp / f'{key}.json'
    cmd = [sys.executable, f'tools/analysis/{script}', *args, '--json', str(out)]
    shown = 'python ' + ' '.join(shlex.quote(a) for a in cmd[1:-2])
    print(f'== {key}: {shown}', flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        return dict(key=key, title=title, command=shown, error=proc.stderr.strip().splitlines()[-1:])
    return dict(key=key, title=title, command=shown, result=json.loads(out.read_text()))


def _ms_mib(m: dict) -> str:
    """'ours / reference' step time and peak memory of one mode."""
    return (f'{m["ours_s"] * 1e3:.0f} / {m["reference_s"] * 1e3:.0f} ms, '
            f'{m["ours_peak_mib"]:.0f} / {m["reference_peak_mib"]:.0f} MiB')


def render_row(item: dict) -> str:
    if 'error' in item:
        return f'| {item["title"]} | failed: {" ".join(item["error"])} | | | | |'
    r = item['result']
    if 'modes' in r:  # benchmark.py: ratio = reference time / our time (> 1: ours faster)
        fwd, train = r['modes'].get('forward', {}), r['modes'].get('train', {})
        cells = [f'{m["speed_ratio"]:.2f}' if m else '–' for m in (fwd, train)]
        cells.append(f'{train["memory_ratio"]:.2f}' if train else f'{fwd["memory_ratio"]:.2f} (forward)')
        cells.append('; '.join(f'{name}: {_ms_mib(m)}' for name, m in (('forward', fwd), ('train', train)) if m))
        note = f'input {"x".join(map(str, r["input"]))}'
        if 'max_abs_diff' in r:
            note += f', max output diff {r["max_abs_diff"]:.1e}'
    else:  # benchmark_fcmae.py: ratio of step times masked / full (< 1: masked cheaper)
        ratio = r['ratio_to_full'].get('sparse', float('nan'))
        cells = ['–', f'{1 / ratio:.2f}', '–']
        times = r.get('median_s', {})
        cells.append(f'train: {times["sparse"] * 1e3:.0f} / {times["full"] * 1e3:.0f} ms'
                     if {'sparse', 'full'} <= set(times) else '–')
        note = (f'masked/full step time {ratio:.3f} vs ideal {r["ideal_ratio"]:.3f} '
                f'({r["ideal_ratio"] / ratio:.0%} of ideal)')
    return f'| {item["title"]} | ' + ' | '.join(cells) + f' | {note} |'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', help='run only comparisons whose key contains this')
    parser.add_argument('--quick', action='store_true', help='2 repeats each (smoke run; noisy ratios)')
    parser.add_argument('--out', default=str(REPORT), help='report path (default docs/benchmarks.md)')
    parser.add_argument('--list', action='store_true', help='print the selected keys and commands, run nothing')
    args = parser.parse_args(argv)
    _optional_comparisons()
    keys = [k for k in COMPARISONS if not args.only or args.only in k]
    if args.list:
        for key in keys:
            _, script, cmd_args = COMPARISONS[key]
            print(f'{key}: python tools/analysis/{script} ' + ' '.join(shlex.quote(a) for a in cmd_args))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        new = {k: run_one(k, args.quick, Path(tmp)) for k in keys}
    old = json.loads(RESULTS.read_text()) if args.only and RESULTS.is_file() else {}
    merged = {**old, **new}
    items = [merged[k] for k in COMPARISONS if k in merged]
    if Path(args.out) == REPORT:
        RESULTS.write_text(json.dumps(merged, indent=1) + '\n')
    stamp = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    lines = [
        '# Benchmarks', '',
        f'Produced by `python tools/analysis/run_benchmarks.py` on {stamp}; machine: {machine()}; '
        f'instruction set: {cpu_instruction_set()}.', '',
        'Each row runs two models step by step, interleaved, in one process and reports ratios of median step '
        'times: **speed ratio = reference time / our time** (above 1: ours is faster; for FCMAE: full-image time '
        '/ masked time) and **memory ratio = our peak / reference peak** (CPU: resident-set high-water mark of one '
        'step; GPU: `max_memory_allocated`). "forward" is inference without grad, "train" forward + backward. '
        'Where the weights are copied from the reference, the largest output difference proves both compute the '
        'same function. "ours / reference" gives the median step times and the peak memory of each side. bf16 rows '
        'autocast the forward pass (`torch.autocast`, as `tools/train.py --amp`); compiled rows time '
        '`torch.compile(model)` after warm-up steps that compile it.', '',
        '| comparison | forward speed ratio | train speed ratio | memory ratio (train step) '
        '| ours / reference: step time, peak memory | notes |',
        '|---|---|---|---|---|---|',
    ]
    lines += [render_row(item) for item in items]
    lines += ['', '## Commands', '']
    lines += [f'- {item["title"]}: `{item["command"]}`' for item in items]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text('\n'.join(lines) + '\n')
    print(f'wrote {args.out}')
    return 1 if any('error' in item for item in new.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
