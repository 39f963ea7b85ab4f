"""Write small synthetic datasets in the standard OpenMMLab layouts, deterministic from a seed.

    python tools/data/make_synthetic.py [--out data/synthetic] [--seed 0] [--num-train 96 --num-val 24]

Writes under ``--out``:
    coco/{train2017,val2017}/*.jpg + coco/annotations/instances_{train,val}2017.json
        instance segmentation: circles, rectangles and triangles on textured backgrounds, polygon masks
    ade/ADEChallengeData2016/{images,annotations}/{training,validation}/*
        semantic segmentation in the ADE20K layout: label 0 unused ("other"), 1 background, 2..4 the shapes
    imagenet/{train,val}/<class>/*.JPEG + imagenet/meta/{train,val}.txt
        classification / pretraining images, one dominant shape per image, 4 classes

Every image differs, the same seed gives byte-identical files.
"""
import argparse
import json
import os
import os.path as osp

import cv2
import numpy as np

SHAPES = ('circle', 'rectangle', 'triangle')
IMAGENET_CLASSES = ('circle', 'rectangle', 'triangle', 'ring')


def textured_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour gradient + stripes + noise, uint8 (h, w, 3) BGR."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, size=3)
    grad = rng.uniform(-60, 60, size=(2, 3))
    img = base + (yy[..., None] / h) * grad[0] + (xx[..., None] / w) * grad[1]
    freq, angle = rng.uniform(0.05, 0.3), rng.uniform(0, np.pi)
    stripes = np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy))
    img += rng.uniform(5, 25) * stripes[..., None]
    img += rng.normal(0, rng.uniform(3, 12), size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def shape_polygon(rng: np.random.Generator, kind: str, cx: float, cy: float, r: float) -> np.ndarray:
    """Polygon (K, 2) float32 of a shape centred at (cx, cy) with radius r."""
    if kind == 'circle':
        t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1).astype(np.float32)
    theta = rng.uniform(0, np.pi)
    if kind == 'rectangle':
        a, b = r, r * rng.uniform(0.5, 1.0)
        pts = np.array([[-a, -b], [a, -b], [a, b], [-a, b]], np.float32)
    else:
        t = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3]) + rng.uniform(-0.2, 0.2, 3)
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1).astype(np.float32)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], np.float32)
    return pts @ rot.T + np.array([cx, cy], np.float32)


def random_color(rng, avoid):
    while True:
        color = rng.integers(0, 256, size=3)
        if np.abs(color.astype(int) - avoid.astype(int)).sum() > 150:
            return tuple(int(c) for c in color)


def draw_scene(rng, h, w, max_objects=4):
    """Returns (image, objects) with objects = [(class_index, polygon)] drawn without overlaps."""
    img = textured_background(rng, h, w)
    occupancy = np.zeros((h, w), bool)
    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1)) * 3):
        if len(objects) >= max_objects:
            break
        cls = int(rng.integers(len(SHAPES)))
        r = rng.uniform(0.08, 0.22) * min(h, w)
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        poly = shape_polygon(rng, SHAPES[cls], cx, cy, r)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        if mask.sum() < 64 or (occupancy & mask.astype(bool)).any():
            continue
        mean = img[mask.astype(bool)].mean(0)
        cv2.fillPoly(img, [np.round(poly).astype(np.int32)], random_color(rng, mean), lineType=cv2.LINE_AA)
        occupancy |= mask.astype(bool)
        objects.append((cls, poly, mask))
    return img, objects


def make_coco(root, rng, num_train, num_val, size_range):
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(SHAPES)]
    for split, num in (('train2017', num_train), ('val2017', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for i in range(num):
            h, w = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
            img, objects = draw_scene(rng, h, w)
            name = f'{i:06d}.jpg'
            cv2.imwrite(osp.join(root, split, name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            images.append(dict(id=i + 1, file_name=name, height=h, width=w))
            for cls, poly, mask in objects:
                x0, y0 = poly.min(0).clip(0)
                x1, y1 = np.minimum(poly.max(0), [w, h])
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=i + 1, category_id=cls + 1, iscrowd=0,
                         area=float(mask.sum()), bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                         segmentation=[[round(float(v), 2) for v in poly.reshape(-1)]]))
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)


def make_ade(root, rng, num_train, num_val, size_range):
    for split, num in (('training', num_train), ('validation', num_val)):
        img_dir = osp.join(root, 'images', split)
        ann_dir = osp.join(root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(num):
            h, w = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
            img, objects = draw_scene(rng, h, w, max_objects=5)
            label = np.ones((h, w), np.uint8)  # 1 = background; 0 ("other") is ignored by reduce_zero_label
            for cls, _, mask in objects:
                label[mask.astype(bool)] = cls + 2
            name = f'ADE_{split}_{i:08d}'
            cv2.imwrite(osp.join(img_dir, name + '.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(ann_dir, name + '.png'), label)


def make_imagenet(root, rng, num_train, num_val, size_range):
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, num in (('train', num_train), ('val', num_val)):
        lines = []
        for i in range(num):
            cls = i % len(IMAGENET_CLASSES)
            h, w = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
            img = textured_background(rng, h, w)
            r = rng.uniform(0.25, 0.4) * min(h, w)
            cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
            color = random_color(rng, img.reshape(-1, 3).mean(0))
            if IMAGENET_CLASSES[cls] == 'ring':
                cv2.circle(img, (int(cx), int(cy)), int(r), color, max(3, int(r / 4)), cv2.LINE_AA)
            else:
                poly = shape_polygon(rng, IMAGENET_CLASSES[cls], cx, cy, r)
                cv2.fillPoly(img, [np.round(poly).astype(np.int32)], color, lineType=cv2.LINE_AA)
            wnid = f'n{cls:08d}'
            os.makedirs(osp.join(root, split, wnid), exist_ok=True)
            rel = f'{wnid}/{split}_{i:06d}.JPEG'
            cv2.imwrite(osp.join(root, split, rel), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            lines.append(f'{rel} {cls}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/synthetic', help='output root')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=96)
    parser.add_argument('--num-val', type=int, default=24)
    parser.add_argument('--min-size', type=int, default=192)
    parser.add_argument('--max-size', type=int, default=320)
    parser.add_argument('--only', choices=['coco', 'ade', 'imagenet'], nargs='+',
                        default=['coco', 'ade', 'imagenet'])
    args = parser.parse_args(argv)
    if args.num_train < 1 or args.num_val < 1:
        raise SystemExit('--num-train and --num-val must be >= 1')
    if not 32 <= args.min_size <= args.max_size:
        raise SystemExit('need 32 <= --min-size <= --max-size')
    size_range = (args.min_size, args.max_size)
    for i, (name, fn) in enumerate((('coco', make_coco), ('ade', make_ade), ('imagenet', make_imagenet))):
        if name in args.only:
            rng = np.random.default_rng([args.seed, i])
            sub = osp.join(args.out, 'ade', 'ADEChallengeData2016') if name == 'ade' else osp.join(args.out, name)
            fn(sub, rng, args.num_train, args.num_val, size_range)
            print(f'wrote {name} to {sub}')


if __name__ == '__main__':
    main()
