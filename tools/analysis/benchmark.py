"""Throughput and peak memory of any config's model, against a reference measured in the same run.

    python tools/analysis/benchmark.py CONFIG [--part backbone|backbone+neck|model] [--shape H W] [--batch N]
        [--mode forward train] [--dtype fp32|bf16|fp16] [--compile] [--channels-last] [--device cpu|cuda]
        [--reference-dtype fp32|bf16|fp16] [--reference-compile]
        [--warmup 2] [--repeats 10] [--cfg-options ...]
        [--reference-options model.backbone.type=... ...] [--ours-options ...] [--json out.json]

Without ``--reference-options`` the reference is the same model in the default settings (fp32, NCHW), so
``--channels-last``, ``--dtype bf16`` (autocast) or ``--compile`` (``torch.compile``) report their speed-up. With
it, the reference is the config's model with those options applied (e.g. another implementation of the same
backbone); ``--ours-options`` apply to our model only (e.g. an implementation switch of ours, timed against an
unchanged reference). ``--copy-weights`` loads the
reference's weights into ours (the backbone through its ``adapt_pretrained`` key conversion, so a reference with
other parameter names works) and reports the largest output difference, so both run the same weights.
``--reference-dtype`` / ``--reference-compile`` run the reference in a mode too (ours vs another implementation,
both in bf16 or both compiled); compiled steps are timed after the warm-up rounds, which compile.
Steps of both models are interleaved (A, B, A, B, ...) and the medians compared; results are ratios, never bare
times alone. Peak memory: CUDA ``max_memory_allocated``; CPU the resident-set high-water mark of one step,
measured in a child process that runs with ``MALLOC_MMAP_THRESHOLD_=65536`` (freed tensors must leave the resident
set), while the timings run on the normal heap (that setting slows allocation-heavy steps by up to ~40%).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import torch
from mmengine.config import DictAction

from mmconvmae.analysis import (analysis_target, default_input_shape, interleaved_timings, load_model, make_step,
                                peak_memory_bytes)

DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16)


def machine() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    from mmconvmae.engine.optimizers.amp import cpu_instruction_set
    return (f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, '
            f'{cpu_instruction_set()}, torch {torch.__version__}')


def _flat_outputs(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    return [t for o in out for t in _flat_outputs(o)]


def copy_weights(reference: torch.nn.Module, ours: torch.nn.Module, x: torch.Tensor) -> float:
    """Loads the reference's weights into ours (every mmconvmae module converts foreign key names in
    ``adapt_pretrained``; the rest must match by name) and returns the largest output difference (eval mode)."""
    from mmconvmae.models.utils.checkpoint import load_pretrained
    state = reference.state_dict()
    targets = [m for m in ours.modules() if hasattr(m, 'adapt_pretrained')]
    if not targets:
        raise ValueError('--copy-weights needs an mmconvmae backbone in our model')
    target = targets[0]
    prefix = next(name for name, m in ours.named_modules() if m is target)
    ref_prefix = prefix + '.' if prefix else ''
    load_pretrained(target, {k[len(ref_prefix):]: v for k, v in state.items() if k.startswith(ref_prefix)})
    rest = {k: v for k, v in state.items() if not k.startswith(ref_prefix)}
    if rest:
        ours.load_state_dict(rest, strict=False)
    ours.eval(), reference.eval()
    with torch.no_grad():
        diffs = [(a.float() - b.float()).abs().max().item()
                 for a, b in zip(_flat_outputs(ours(x)), _flat_outputs(reference(x)))]
    return max(diffs)


def build(args):
    """Our model, the reference and the input batch, on ``args.device``."""
    cfg, model = load_model(args.config, {**(args.cfg_options or {}), **(args.ours_options or {})})
    shape = args.shape or default_input_shape(cfg)
    h, w = (shape[0], shape[0]) if len(shape) == 1 else shape[:2]
    ours = analysis_target(cfg, model, args.part).to(args.device)
    ref_cfg, ref_model = load_model(args.config, {**(args.cfg_options or {}), **(args.reference_options or {})})
    reference = analysis_target(ref_cfg, ref_model, args.part).to(args.device)
    x = torch.randn(args.batch, 3, h, w, device=args.device)
    return ours, reference, x


def make_steps(args, ours, reference, x, mode: str) -> dict:
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    for m in (ours, reference):
        m.train(mode == 'train')
    return {
        'ours': make_step(ours.to(memory_format=layout), x.to(memory_format=layout), mode, DTYPES[args.dtype],
                          args.compile),
        'reference': make_step(reference, x, mode, DTYPES[args.reference_dtype], args.reference_compile),
    }


def peak_memory(args) -> dict:
    """{mode: {'ours': bytes, 'reference': bytes}} of one step each, after a warm-up step (one-time allocations
    such as oneDNN primitive caches are not counted)."""
    ours, reference, x = build(args)
    memory = {}
    for mode in args.mode:
        steps = make_steps(args, ours, reference, x, mode)
        for step in steps.values():
            step()
        memory[mode] = {name: peak_memory_bytes(step, args.device) for name, step in steps.items()}
    return memory


def measure_memory(args, argv) -> dict:
    """:func:`peak_memory`, on CPU in a child process (see the module docstring)."""
    if args.device != 'cpu':
        return peak_memory(args)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'memory.json')
        subprocess.run([sys.executable, os.path.abspath(__file__), *argv, '--memory-only', out], check=True,
                       env=dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536'), stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def run(args, argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    if args.memory_only:  # child process of measure_memory()
        memory = peak_memory(args)
        with open(args.memory_only, 'w') as f:
            json.dump(memory, f)
        return memory
    ours, reference, x = build(args)
    ref_mode = args.reference_dtype + (', compiled' if args.reference_compile else ', eager')
    ref_name = ('reference (' + ' '.join(f'{k}={v}' for k, v in args.reference_options.items()) + f'; {ref_mode})'
                if args.reference_options else f'reference (same model, {ref_mode}, NCHW)')
    results = dict(config=args.config, part=args.part, input=list(x.shape), machine=machine(),
                   ours=dict(dtype=args.dtype, compile=args.compile, channels_last=args.channels_last,
                             options=args.ours_options),
                   reference=ref_name, reference_mode=dict(dtype=args.reference_dtype, compile=args.reference_compile),
                   modes={})
    if args.copy_weights:
        results['max_abs_diff'] = copy_weights(reference, ours, x)
        print(f'weights copied from the reference; largest output difference: {results["max_abs_diff"]:.3g}')
    timings = {mode: interleaved_timings(make_steps(args, ours, reference, x, mode), args.warmup, args.repeats)
               for mode in args.mode}
    del ours, reference
    memory = measure_memory(args, argv)
    for mode, timing in timings.items():
        mem = memory[mode]
        r = dict(
            ours_s=timing['ours']['median'], reference_s=timing['reference']['median'],
            speed_ratio=timing['reference']['median'] / timing['ours']['median'],
            ours_img_per_s=args.batch / timing['ours']['median'],
            ours_peak_mib=mem['ours'] / 2**20, reference_peak_mib=mem['reference'] / 2**20,
            memory_ratio=mem['ours'] / max(mem['reference'], 1))
        results['modes'][mode] = r
        print(f'[{mode}] ours {r["ours_s"] * 1e3:.1f} ms/step ({r["ours_img_per_s"]:.2f} img/s), '
              f'{ref_name} {r["reference_s"] * 1e3:.1f} ms/step -> speed ratio (ref/ours) {r["speed_ratio"]:.3f}; '
              f'peak memory {r["ours_peak_mib"]:.0f} vs {r["reference_peak_mib"]:.0f} MiB '
              f'(ratio {r["memory_ratio"]:.3f})')
    print(f'machine: {results["machine"]}; input {results["input"]}; part {args.part}; '
          f'median of {args.repeats} interleaved repeats after {args.warmup} warm-up rounds')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--part', default='backbone', choices=['backbone', 'backbone+neck', 'model'])
    parser.add_argument('--shape', type=int, nargs='+', help='input H W (default: the papers\' FLOPs size)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--mode', nargs='+', default=['forward', 'train'], choices=['forward', 'train'])
    parser.add_argument('--dtype', default='fp32', choices=list(DTYPES), help='our autocast dtype')
    parser.add_argument('--compile', action='store_true', help='torch.compile our model')
    parser.add_argument('--reference-dtype', default='fp32', choices=list(DTYPES), help="the reference's dtype")
    parser.add_argument('--reference-compile', action='store_true', help='torch.compile the reference')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, help='CPU threads (default: torch default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--reference-options', nargs='+', action=DictAction,
                        help='cfg options that turn the config into the reference model')
    parser.add_argument('--ours-options', nargs='+', action=DictAction,
                        help='cfg options applied to our model only (not to the reference)')
    parser.add_argument('--copy-weights', action='store_true',
                        help='run ours with the reference\'s weights and report the output difference')
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--memory-only', metavar='JSON', help=argparse.SUPPRESS)  # internal: see measure_memory
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


if __name__ == '__main__':
    run(parse_args())
