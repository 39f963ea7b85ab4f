"""Test (and evaluate) a checkpoint with an mmdet, mmseg or mmpretrain config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--out results.pkl] [--amp] [--compile]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [args]
"""
import argparse
import os

from mmengine.config import DictAction

from mmconvmae.engine.launch import (SCOPES, build_runner, compile_test_step, enable_amp, enable_compile,
                                     enable_tta, enable_visualization, load_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model of mmconvmae (mmdet / mmseg / mmpretrain config)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for the evaluation logs and metrics')
    parser.add_argument('--show-dir', help='draw the predictions into PNG files in this directory')
    parser.add_argument('--out', help='dump raw predictions to this .pkl file (mmdet / mmpretrain)')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation with the config's tta_model and tta_pipeline")
    parser.add_argument('--amp', action='store_true',
                        help='test under autocast: float16 on a GPU, bf16 on a CPU with native bf16 (else fp32)')
    parser.add_argument('--compile', nargs='?', const='default', metavar='MODE',
                        help='torch.compile the test step (options as cfg.compile; MODE: a torch.compile mode)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)
    if args.tta:
        enable_tta(cfg)
    if args.amp:
        enable_amp(cfg, train=False)
    if args.compile:
        enable_compile(cfg, args.compile)
    runner = build_runner(cfg)
    if args.compile:
        compile_test_step(runner)
    if args.out:
        dump = SCOPES[cfg.default_scope][2]
        if dump is None:
            raise ValueError(f'--out is not supported for {cfg.default_scope} configs; use --show-dir')
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl file')
        from mmengine.registry import METRICS
        runner.test_evaluator.metrics.append(METRICS.build(dict(type=dump, out_file_path=args.out)))
    metrics = runner.test()
    return metrics


if __name__ == '__main__':
    main()
