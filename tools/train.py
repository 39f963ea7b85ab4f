"""Train an mmdet, mmseg or mmpretrain config (the config's ``default_scope`` decides which).

    python tools/train.py configs/mask_rcnn_convmae_base_coco.py [--work-dir DIR] [--amp [--amp-dtype DTYPE]]
        [--compile] [--resume [CKPT]]
    bash tools/dist_train.sh CONFIG NUM_GPUS [args]        # torchrun, one node or many (gloo on CPU-only machines)
    bash tools/dist_train.sh CONFIG NUM_GPUS --strategy fsdp   # sharded (FlexibleRunner + FSDPStrategy)
"""
import argparse
import os

from mmengine.config import DictAction

from mmconvmae.engine.fsdp import enable_fsdp
from mmconvmae.engine.launch import build_runner, enable_amp, enable_compile, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model of mmconvmae (mmdet / mmseg / mmpretrain config)')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='CHECKPOINT',
                        help='resume from CHECKPOINT, or from the latest checkpoint in the work dir if omitted')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 with loss scaling on a GPU, bf16 autocast on a CPU with native '
                        'bf16 (AMX / AVX512-BF16), fp32 otherwise')
    parser.add_argument('--amp-dtype', choices=['float16', 'bfloat16'],
                        help='autocast dtype for --amp (bfloat16 also forces bf16 on a CPU without native bf16)')
    parser.add_argument('--compile', nargs='?', const='default', metavar='MODE',
                        help="torch.compile the train step (mmengine's cfg.compile); MODE: a torch.compile mode, "
                        "e.g. max-autotune")
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual batch size over auto_scale_lr.base_batch_size')
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_iters=100 model.backbone.arch=tiny')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (multi-GPU / multi-node runs go through mmengine)')
    parser.add_argument('--strategy', choices=['fsdp'],
                        help="fsdp: shard parameters, gradients and optimizer states (mmengine's FlexibleRunner with "
                             'FSDPStrategy; for the huge arches; needs a distributed launch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.amp_dtype and not args.amp:
        parser.error('--amp-dtype needs --amp')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        enable_amp(cfg, args.amp_dtype)
    if args.compile:
        enable_compile(cfg, args.compile)
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.strategy == 'fsdp':
        enable_fsdp(cfg)
    runner = build_runner(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
