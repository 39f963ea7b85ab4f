"""The report of a demo run (``tools/demo.sh``): one picture and a few numbers per task.

    python tools/analysis/demo_report.py WORK_DIR --config CONFIG [--checkpoint CKPT] [--out report.png]
    python tools/analysis/demo_report.py WORK_DIR --config CONFIG --print-task

    detection       box / mask mAP of ``tools/test.py``; picture: ground truth | prediction of the first 8
                    validation images (drawn by ``tools/test.py --show-dir WORK_DIR/show``); how many validation
                    images have a box above the drawing threshold (``--out WORK_DIR/test/predictions.pkl``)
    segmentation    mIoU; picture: ground truth | prediction of the first 8 validation images
    classification  top-1 / top-2 accuracy; picture: 8 validation images with their predicted class
    pretraining     the loss curve; picture: original / masked input / reconstruction of 4 images, drawn here from
                    the checkpoint (self-supervised configs have no test loop)

Writes WORK_DIR/report.png, WORK_DIR/loss_curve.png and WORK_DIR/demo_summary.txt and prints the summary.
"""
import argparse
import glob
import json
import os.path as osp
import pickle

import numpy as np

TASKS = ('detection', 'segmentation', 'classification', 'pretraining')
#: DetVisualizationHook's default score threshold: boxes below it are not drawn
DRAW_SCORE_THR = 0.3


def task_of(cfg) -> str:
    """The demo task of a config: mmdet -> detection, mmseg -> segmentation, mmpretrain with a test loop ->
    classification, without one (self-supervised) -> pretraining."""
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        return 'detection'
    if scope == 'mmseg':
        return 'segmentation'
    if scope == 'mmpretrain':
        return 'classification' if cfg.get('test_dataloader') else 'pretraining'
    raise ValueError(f'{cfg.filename}: no demo task for default_scope {scope!r}')


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


def label(img, text, height=22):
    """``img`` with a white title bar holding ``text`` on top."""
    import cv2
    bar = np.full((height, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, height - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], 0)


def tile(images, columns, title=None):
    """Pads the images to one cell size and arranges them in rows of ``columns``; uint8 BGR."""
    h = max(i.shape[0] for i in images)
    w = max(i.shape[1] for i in images)
    cells = []
    for img in images:
        cell = np.full((h + 4, w + 4, 3), 255, np.uint8)
        cell[2:2 + img.shape[0], 2:2 + img.shape[1]] = img
        cells.append(cell)
    while len(cells) % columns:
        cells.append(np.full_like(cells[0], 255))
    grid = np.concatenate([np.concatenate(cells[i:i + columns], 1) for i in range(0, len(cells), columns)], 0)
    return label(grid, title) if title else grid


def grid_from_show_dir(show_dir, out, title, max_images=8, columns=2, cell=384):
    """The first ``max_images`` pictures drawn by ``tools/test.py --show-dir`` (.png or .jpg) as one PNG."""
    import cv2
    files = sorted(f for ext in ('png', 'jpg', 'jpeg') for f in glob.glob(osp.join(show_dir, '**', f'*.{ext}'),
                                                                       recursive=True))
    if not files:
        raise FileNotFoundError(f'no pictures in {show_dir}: run tools/test.py with --show-dir {show_dir} first')
    images = []
    for f in files[:max_images]:
        img = cv2.imread(f)
        scale = cell / max(img.shape[:2])
        images.append(cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale))))
    cv2.imwrite(out, tile(images, columns, title))
    return out, len(files)


def detection_counts(pkl, thr=DRAW_SCORE_THR):
    """(images with a box scored >= thr, images, best score) from ``tools/test.py --out`` results."""
    with open(pkl, 'rb') as f:
        results = pickle.load(f)
    best = [float(np.asarray(r['pred_instances']['scores']).max(initial=0.0)) for r in results]
    return sum(b >= thr for b in best), len(results), max(best, default=0.0)


def loss_curve(train, out):
    """Training loss against iteration as a PNG (matplotlib, Agg)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    ax.plot([r.get('iter', i) for i, r in enumerate(train)], [r['loss'] for r in train])
    ax.set_xlabel('iteration')
    ax.set_ylabel('training loss')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


# ---- pretraining: original / masked input / reconstruction ------------------------------------------------------
def _unpatch(x, p, hw, c=3):
    n = x.shape[0]
    h, w = hw
    return x.reshape(n, h, w, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(n, c, h * p, w * p)


def _denorm_pred(pred, images, head):
    """Undo the per-patch normalisation of a norm-pix target with the statistics of the true patches (the head's
    own ``patchify``: MAE order, (row, col, channel) inside a patch)."""
    target = head.patchify(images)
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
    return pred * (var + 1e-6)**.5 + mean


def reconstruct(model, images, teacher=None, seed=0):
    """(original, masked input, third panel, caption) tensors (N, 3, H, W) in the model's normalised space."""
    import torch
    torch.manual_seed(seed)
    kind = type(model).__name__
    if kind in ('FCMAE', 'ConvMAEPretrain') or (kind == 'iTPN' and model.target == 'pixel'):
        pred, mask = model.reconstruct(images)
        p = model.patch_size
        grid = (images.shape[2] // p, images.shape[3] // p)
        if getattr(model.head, 'norm_pix', False):
            pred = _denorm_pred(pred, images, model.head)
        recon = _unpatch(pred, p, grid)
        caption = 'visible patches pasted'
    elif kind == 'iTPN':  # CLIP target: features, not pixels -> per-unit cosine similarity to the teacher
        p = model.backbone.patch_size
        n, _, h, w = images.shape
        grid = (h // p, w // p)
        mask = (torch.rand(n, grid[0] * grid[1]) < 0.4).float()
        mid_block = int(0.75 * model.backbone.num_main_blocks)  # as iTPN.loss (official L255)
        feats, mid, hw = model.backbone.forward_units(images, token_mask=mask, return_block=mid_block)
        main, _ = model.head(model.neck.forward_units(*feats), mid, hw)
        target = model.target_generator(images if teacher is None else teacher)
        sim = torch.nn.functional.cosine_similarity(main, target, dim=-1).clamp(0, 1)  # (N, L)
        heat = sim.reshape(n, 1, *grid).repeat(1, 3, 1, 1)
        heat = torch.nn.functional.interpolate(heat, scale_factor=p, mode='nearest')
        # shown as an intensity picture after _to_uint8's de-normalisation: map [0, 1] to image range
        std = model.data_preprocessor.std.view(1, -1, 1, 1) if hasattr(model.data_preprocessor, 'std') else 1
        mean = model.data_preprocessor.mean.view(1, -1, 1, 1) if hasattr(model.data_preprocessor, 'mean') else 0
        recon = (heat * 255 - mean) / std
        caption = 'cosine sim. to CLIP target'
        masked = images * (1 - torch.nn.functional.interpolate(mask.reshape(n, 1, *grid), scale_factor=p))
        return images, masked, recon, caption
    else:
        raise TypeError(f'no reconstruction picture for {kind}')
    m = torch.nn.functional.interpolate(mask.reshape(images.shape[0], 1, *grid).float(),
                                        scale_factor=p, mode='nearest')
    masked = images * (1 - m)
    recon = images * (1 - m) + recon * m
    return images, masked, recon, caption


def pretraining_picture(cfg, checkpoint, out, num_images=4, cell=128):
    """Original / masked input / reconstruction for the first ``num_images`` validation images."""
    import cv2
    import torch
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor'):  # as mmengine's Runner does
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    model.init_weights()
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    model.eval()
    size = _crop_size(cfg.train_dataloader.dataset.pipeline)
    pipeline = Compose([dict(type='mmpretrain.LoadImageFromFile'),
                        dict(type='mmpretrain.ResizeEdge', scale=size, edge='short'),
                        dict(type='mmpretrain.CenterCrop', crop_size=size),
                        dict(type='mmpretrain.PackInputs')])
    root = cfg.train_dataloader.dataset.data_root
    files = [line.split()[0] for line in open(osp.join(root, 'meta', 'val.txt')) if line.strip()]
    step = max(1, len(files) // num_images)  # spread over the classes
    batch = [pipeline(dict(img_path=osp.join(root, 'val', f)))['inputs'] for f in files[::step][:num_images]]
    pre = model.data_preprocessor
    rgb = bool(getattr(pre, '_channel_conversion', False))
    raw = torch.stack(batch).float()
    raw = raw[:, [2, 1, 0]] if rgb else raw  # PackInputs keeps cv2's BGR; the preprocessor converts it
    images = (raw - pre.mean.view(1, -1, 1, 1)) / pre.std.view(1, -1, 1, 1)
    teacher = None
    if hasattr(pre, 'second_mean'):  # TwoNormDataPreprocessor (iTPN CLIP target): the teacher's normalisation
        teacher = (raw - pre.second_mean.view(1, -1, 1, 1)) / pre.second_std.view(1, -1, 1, 1)
    with torch.no_grad():
        panels = reconstruct(model, images, teacher)
    caption = panels[3]
    columns = []
    for title, x in zip(('original', 'masked input', 'reconstruction'), panels[:3]):
        x = x * pre.std.view(1, -1, 1, 1) + pre.mean.view(1, -1, 1, 1)
        x = x.clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
        if rgb:
            x = x[..., ::-1]  # the model saw RGB; cv2 writes BGR
        col = [cv2.resize(np.ascontiguousarray(i), (cell, cell), interpolation=cv2.INTER_NEAREST) for i in x]
        columns.append(label(np.concatenate(col, 0), title))
    picture = tile(columns, 3, f'{type(model).__name__}, {caption}')
    cv2.imwrite(out, picture)
    return out


def _crop_size(pipeline) -> int:
    """The crop side of the first crop transform: its ``crop_size`` / ``size``, or mmpretrain's ``scale`` (an output
    size there, but an area range such as (0.2, 1.0) in ``RandomResizedCropAndInterpolationWithTwoPic``)."""
    for t in pipeline:
        if 'Crop' not in t['type']:
            continue
        for key in ('crop_size', 'size', 'scale'):
            v = t.get(key)
            v = v if isinstance(v, int) or v is None else v[0]
            if isinstance(v, int) and v > 0:
                return v
    return 224


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--config', required=True, help='the demo config (or the copy in WORK_DIR)')
    parser.add_argument('--checkpoint', help='pretraining: the checkpoint to draw (default: last_checkpoint)')
    parser.add_argument('--show-dir', help='pictures of tools/test.py --show-dir (default WORK_DIR/show)')
    parser.add_argument('--out', help='report picture (default WORK_DIR/report.png)')
    parser.add_argument('--print-task', action='store_true', help=f'only print the task: one of {TASKS}')
    args = parser.parse_args(argv)
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    task = task_of(cfg)
    if args.print_task:
        print(task)
        return task
    work_dir = args.work_dir
    show_dir = args.show_dir or osp.join(work_dir, 'show')
    out = args.out or osp.join(work_dir, 'report.png')
    train, test = read_scalars(work_dir)
    lines = [f'task: {task}']
    if train:
        first, last = train[0], train[-1]
        lines.append(f'training loss: {first["loss"]:.4f} (iter {first.get("iter", "?")}) -> {last["loss"]:.4f} '
                     f'(iter {last.get("iter", "?")}), {len(train)} logged points; curve: '
                     + loss_curve(train, osp.join(work_dir, 'loss_curve.png')))
    metrics = {k: v for k, v in test.items() if '/' in k or k in ('mIoU', 'aAcc', 'mAcc')}
    if task != 'pretraining':
        if not metrics:
            raise RuntimeError(f'no test metrics under {work_dir}/test: run tools/test.py --work-dir '
                               f'{work_dir}/test first')
        lines.append('test metrics: ' + ', '.join(f'{k}={v}' for k, v in metrics.items()))
    if task == 'detection':
        picture, n = grid_from_show_dir(show_dir, out, 'left: ground truth | right: prediction (score >= '
                                        f'{DRAW_SCORE_THR})')
        pkl = osp.join(work_dir, 'test', 'predictions.pkl')
        if osp.isfile(pkl):
            drawn, total, best = detection_counts(pkl)
            lines.append(f'validation images with a drawn box (score >= {DRAW_SCORE_THR}): {drawn}/{total}, '
                         f'best score {best:.3f}')
    elif task == 'segmentation':
        picture, n = grid_from_show_dir(show_dir, out, 'left: ground truth | right: prediction')
    elif task == 'classification':
        picture, n = grid_from_show_dir(show_dir, out, 'validation images: predicted class (score)', columns=4,
                                        cell=192)
    else:
        checkpoint = args.checkpoint or open(osp.join(work_dir, 'last_checkpoint')).read().strip()
        picture = pretraining_picture(cfg, checkpoint, out)
    lines.append(f'picture: {picture}')
    print('\n'.join(lines))
    with open(osp.join(work_dir, 'demo_summary.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return lines


if __name__ == '__main__':
    main()
