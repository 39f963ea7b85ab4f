"""Summarise a demo run: training-loss curve (first / last logged values), test metrics, and a PNG grid of the
predicted images drawn by ``tools/test.py --show-dir``.

    python tools/analysis/demo_report.py WORK_DIR [--show-dir DIR] [--grid OUT.png]
"""
import argparse
import glob
import json
import os.path as osp

import numpy as np


def read_scalars(work_dir):
    """Training records (with 'loss') of the newest training run and the last test record."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    train = []
    for path in runs:
        records = [json.loads(line) for line in open(path) if line.strip()]
        if any('loss' in r for r in records):
            train = [r for r in records if 'loss' in r]
    tests = sorted(glob.glob(osp.join(work_dir, 'test', '*', '*.json')))
    test = [json.loads(line) for line in open(tests[-1]) if line.strip()][-1] if tests else {}
    return train, test


def make_grid(show_dir, out, max_images=8, cell=256):
    import cv2
    files = sorted(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True))
    files = [f for f in files if osp.abspath(f) != osp.abspath(out)][:max_images]
    if not files:
        return None
    tiles = []
    for f in files:
        img = cv2.imread(f)
        scale = cell / max(img.shape[:2])
        img = cv2.resize(img, (int(img.shape[1] * scale), int(img.shape[0] * scale)))
        tile = np.full((cell, cell, 3), 255, np.uint8)
        tile[:img.shape[0], :img.shape[1]] = img
        tiles.append(tile)
    while len(tiles) % 4:
        tiles.append(np.full((cell, cell, 3), 255, np.uint8))
    rows = [np.concatenate(tiles[i:i + 4], 1) for i in range(0, len(tiles), 4)]
    cv2.imwrite(out, np.concatenate(rows, 0))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--show-dir')
    parser.add_argument('--grid', help='output PNG grid (default WORK_DIR/predictions.png)')
    args = parser.parse_args(argv)
    train, test = read_scalars(args.work_dir)
    lines = []
    if train:
        first, last = train[0], train[-1]
        lines.append(f'training loss: {first["loss"]:.4f} (iter {first.get("iter", "?")}) -> {last["loss"]:.4f} '
                     f'(iter {last.get("iter", "?")}), {len(train)} logged points')
    metrics = {k: v for k, v in test.items() if '/' in k or k in ('mIoU', 'aAcc', 'mAcc')}
    if metrics:
        lines.append('test metrics: ' + ', '.join(f'{k}={v}' for k, v in metrics.items()))
    if args.show_dir:
        grid = make_grid(args.show_dir, args.grid or osp.join(args.work_dir, 'predictions.png'))
        if grid:
            lines.append(f'predictions: {grid} (per image: {args.show_dir})')
    print('\n'.join(lines))
    with open(osp.join(args.work_dir, 'demo_summary.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
