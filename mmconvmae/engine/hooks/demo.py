"""Hooks for short CPU runs (the demo configs): an early first progress line and light checkpoints."""
from typing import Optional, Sequence

from mmengine.hooks import CheckpointHook, LoggerHook

from mmconvmae.registry import HOOKS


@HOOKS.register_module()
class EarlyLoggerHook(LoggerHook):
    """mmengine's ``LoggerHook`` that also logs the training iterations in ``first_iters`` (1-based), so a slow
    run shows its first progress line after one iteration instead of after ``interval``."""

    def __init__(self, first_iters: Sequence[int] = (1, 5), **kwargs):
        super().__init__(**kwargs)
        self.first_iters = tuple(int(i) for i in first_iters)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        if (runner.iter + 1) in self.first_iters and (batch_idx + 1) % self.interval:
            tag, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, 'train')
            runner.logger.info(log_str)
            runner.visualizer.add_scalars(tag, step=runner.iter + 1, file_path=self.json_log_path)
            return
        super().after_train_iter(runner, batch_idx, data_batch, outputs)


@HOOKS.register_module()
class LastOptimizerCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` that keeps the optimizer (and scheduler) state only in the checkpoint of the
    last iteration / epoch: the intermediate ones hold the weights (and meta) only, about a third of the size with
    AdamW. ``--resume`` needs the last one (or loads weights only from an intermediate one)."""

    def _last(self, runner) -> bool:
        if runner.train_loop is None:
            return True
        if self.by_epoch:
            return runner.epoch + 1 >= runner.max_epochs
        return runner.iter + 1 >= runner.max_iters

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self.save_optimizer = self.save_param_scheduler = self._last(runner)
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def after_train_epoch(self, runner) -> None:
        self.save_optimizer = self.save_param_scheduler = self._last(runner)
        super().after_train_epoch(runner)
