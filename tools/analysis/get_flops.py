"""Parameters and FLOPs (multiply-adds, as in the papers) of any config's model, with mmengine's FLOP counter.

    python tools/analysis/get_flops.py configs/mask_rcnn_convmae_base_coco.py [--shape 800 1280] [--part model]

``--part`` backbone (default) | backbone+neck | model (whole model in tensor mode; for detectors the RPN/RoI
cost depends on the proposals of the randomly initialised model, so quote the backbone/neck numbers).
The default shape is the papers' convention: 1280x800 (COCO), 2048x512 (ADE20K), 224x224 (ImageNet).
"""
import argparse

import torch
from mmengine.config import DictAction

from mmconvmae.analysis import analysis_target, count_flops, count_params, default_input_shape, load_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', help='input H W (or one value for a square)')
    parser.add_argument('--part', default='backbone', choices=['backbone', 'backbone+neck', 'model'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg, model = load_model(args.config, args.cfg_options)
    shape = args.shape or default_input_shape(cfg)
    h, w = (shape[0], shape[0]) if len(shape) == 1 else shape[:2]
    target = analysis_target(cfg, model, args.part)
    with torch.no_grad():
        flops = count_flops(target, torch.randn(1, 3, h, w))
    print(f'config: {args.config}\npart: {args.part}\ninput: 1x3x{h}x{w}\n'
          f'params: {count_params(target) / 1e6:.2f} M (whole model {count_params(model) / 1e6:.2f} M)\n'
          f'FLOPs: {flops / 1e9:.2f} G')
    return dict(params=count_params(target), model_params=count_params(model), flops=flops)


if __name__ == '__main__':
    main()
