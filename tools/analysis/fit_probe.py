"""Fixed-batch fit probe for detection configs: train on one batch of training images and print the losses.

A detector that cannot fit a handful of images in a few dozen steps will not learn in the demo schedule either;
the probe tells in about a minute per variant what a 300-iteration demo run tells in ten (docs/convmae.md,
"Main demo"). Example (the rows of that section):

    python tools/analysis/fit_probe.py configs/demo/mask_rcnn_convmae_demo.py
    python tools/analysis/fit_probe.py configs/demo/mask_rcnn_convmae_demo.py --patch-norm bn   # diagnosis only
    python tools/analysis/fit_probe.py configs/demo/mask_rcnn_conv2former_demo.py --steps 30

``--patch-norm`` sets ConvMAE's ``patch_norm_cfg`` (the norm of ``patch_embed1..3``) to BatchNorm or nothing: a
diagnostic, not the paper's model (which has LayerNorm there; the same switch in a config or ``--cfg-options
model.backbone.patch_norm_cfg.type=BN`` trains the full demo that way).
"""
import argparse
import copy

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, set_random_seed

import mmconvmae  # noqa: F401  (registers the models)
from mmconvmae.models.backbones import ConvMAE


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--lr', type=float, default=1e-3, help='AdamW learning rate (weight decay 0.05)')
    parser.add_argument('--every', type=int, default=10, help='print the losses every N steps (and at step 1)')
    parser.add_argument('--patch-norm', choices=('ln', 'bn', 'none'), default='ln',
                        help="ConvMAE only: the norm of patch_embed1..3 ('ln' = the paper's model)")
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmdet.registry import MODELS
    if args.patch_norm != 'ln':
        backbone = MODELS.get(cfg.model.backbone.type)
        if not issubclass(backbone, ConvMAE):
            raise ValueError(f'--patch-norm needs a ConvMAE backbone, got {backbone.__name__}')
        cfg.model.backbone.patch_norm_cfg = dict(type='BN') if args.patch_norm == 'bn' else None
    set_random_seed(args.seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.batch_size = args.batch_size
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=args.seed)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    model.train()
    for step in range(1, args.steps + 1):
        loss, logs = model.parse_losses(model(**model.data_preprocessor(batch, True), mode='loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 1 or step % args.every == 0:
            print(f'step {step}: ' + ' '.join(f'{k}={v.item():.3f}' for k, v in logs.items()), flush=True)
    return loss.item()


if __name__ == '__main__':
    main()
