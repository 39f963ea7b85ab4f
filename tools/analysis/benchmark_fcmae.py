"""Step time of FCMAE's masked encoder vs the same encoder on the full image.

One pretraining step = forward + backward. The variants run interleaved (A, B, C, A, B, C, ...; shared
``mmconvmae.analysis.interleaved_timings``), so load from other processes hits them alike; the report gives the
median time of each variant and the median of the per-repeat ratios. ``--memory`` also reports the peak
memory of one step (CPU: the process is re-run with ``MALLOC_MMAP_THRESHOLD_=65536`` so freed tensors leave
the resident set; that makes allocations slower, so take timings from a run without it).

Variants:
  full    the encoder on the full image (what a dense ConvNeXt V2 costs)
  sparse  the masked encoder, computing only visible positions (FCMAEConvNeXtV2, default path)
  dense   the masked encoder computed densely with masked positions zeroed (the paper's "dense masked conv")
  nomask  the masked-encoder code path with nothing masked (its overhead against `full`; ratio ~1 expected)
With --whole, the step also includes the decoder and the loss (FCMAE.loss vs the same with the full image
encoded; the decoder work is the same in both).

The ideal ratio is the visible fraction: int(L * (1 - mask_ratio)) / L cells (19/49 = 0.388 at 224).
"fraction of ideal" = ideal ratio / measured ratio (1.0 = masked positions cost nothing).

Example:
  python tools/analysis/benchmark_fcmae.py --arch tiny --batch 4 --size 224 --repeats 5
"""
import argparse
import json
import os
import statistics
import sys

if '--memory' in sys.argv and os.environ.get('MALLOC_MMAP_THRESHOLD_') is None:  # see --memory
    os.environ['MALLOC_MMAP_THRESHOLD_'] = '65536'
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402

from mmconvmae.analysis import interleaved_timings, peak_memory_bytes  # noqa: E402
from mmconvmae.models.selfsup.fcmae import FCMAE  # noqa: E402
from mmconvmae.models.utils import random_masking  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arch', default='tiny', help='ConvNeXt V2 arch (atto..huge)')
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--mask-ratio', type=float, default=0.6)
    p.add_argument('--repeats', type=int, default=5, help='interleaved repeats (median reported)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    p.add_argument('--variants', default='full,sparse,dense', help='comma-separated, from full,sparse,dense,nomask')
    p.add_argument('--window-min-side', type=int, default=None,
                   help='FCMAEConvNeXtV2.window_min_side (cell side from which depthwise convs run per cell)')
    p.add_argument('--whole', action='store_true', help='time the whole FCMAE step (with decoder and loss)')
    p.add_argument('--memory', action='store_true', help='also report the peak memory of one step')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--json', help='write the results (median times, ratios to full, peak memory) here')
    return p.parse_args()


def make_step(model, images, mask, variant, whole):
    encoder = model.backbone

    def step():
        model.zero_grad(set_to_none=True)
        enc_mask = None if variant == 'full' else torch.zeros_like(mask) if variant == 'nomask' else mask
        if variant == 'dense':
            latent = encoder._forward_dense_masked(images, encoder._mask_grid(images, mask))
        else:
            latent = encoder(images, enc_mask)
        if whole:
            pred = model.neck(latent, mask)
            loss = model.head.loss(pred, images, mask)
        else:
            loss = latent.square().mean()
        loss.backward()
        if images.is_cuda:
            torch.cuda.synchronize()
    return step


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = FCMAE(backbone=dict(arch=args.arch), mask_ratio=args.mask_ratio).to(args.device).train()
    if args.window_min_side is not None:
        model.backbone.window_min_side = args.window_min_side
    images = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    num_cells = (args.size // 32)**2
    mask = random_masking(args.batch, num_cells, args.mask_ratio, 'normal', device=args.device)[0]
    ideal = int(num_cells * (1 - args.mask_ratio)) / num_cells
    variants = args.variants.split(',')
    steps = {v: make_step(model, images, mask, v, args.whole) for v in variants}
    result = interleaved_timings(steps, warmup=args.warmup, repeats=args.repeats)
    times = {v: result[v]['times'] for v in variants}
    memory = {v: peak_memory_bytes(steps[v], args.device) for v in variants} if args.memory else {}
    print(f'arch={args.arch} batch={args.batch} size={args.size} mask_ratio={args.mask_ratio} '
          f'threads={torch.get_num_threads()} device={args.device} whole_step={args.whole} '
          f'repeats={args.repeats} window_min_side={model.backbone.window_min_side}')
    print(f'visible fraction (ideal ratio) = {ideal:.3f}')
    for v in variants:
        print(f'  {v:7s} median {statistics.median(times[v]) * 1e3:9.1f} ms   '
              f'(min {min(times[v]) * 1e3:.1f}, max {max(times[v]) * 1e3:.1f})'
              + (f'   peak memory {memory[v] / 2**20:.0f} MiB' if memory else ''))
    ratios = {}
    if 'full' in times:
        for v in variants:
            if v == 'full':
                continue
            ratio = ratios[v] = statistics.median(a / b for a, b in zip(times[v], times['full']))
            print(f'  {v}/full ratio {ratio:.3f}   fraction of ideal {ideal / ratio:.2f}   '
                  f'speed-up {1 / ratio:.2f}x (ideal {1 / ideal:.2f}x)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), threads=torch.get_num_threads(), ideal_ratio=ideal,
                           median_s={v: statistics.median(t) for v, t in times.items()}, ratio_to_full=ratios,
                           peak_mib={v: m / 2**20 for v, m in memory.items()}), f, indent=2)


if __name__ == '__main__':
    main()
