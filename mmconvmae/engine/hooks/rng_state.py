"""Bit-exact resume: save and restore the python / numpy / torch random states with the checkpoint."""
import functools
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmconvmae.registry import HOOKS


def get_rng_state() -> Dict[str, Any]:
    state = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfterSkip:
    """Wraps the loop's data iterator: after the ``skip`` batches that mmengine replays on resume, restore the
    random state saved in the checkpoint, so the next batch sees the same randomness as without the stop."""

    def __init__(self, iterator, skip: int, state: Dict[str, Any]):
        self._iterator, self._skip, self._state = iterator, skip, state

    def __next__(self):
        if self._skip == 0 and self._state is not None:
            set_rng_state(self._state)
            self._state = None
        self._skip -= 1
        return next(self._iterator)

    def __iter__(self):
        return self

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Stores every rank's random states in the checkpoint and restores them on ``--resume``.

    mmengine re-seeds at start-up but does not restore random states, so a resumed run draws different
    augmentations, RoI samples and drop-path masks than the uninterrupted one. With this hook, a run stopped
    and resumed ends with the same weights as an uninterrupted run (with ``num_workers=0``; with worker
    processes the workers' own random streams restart, as in plain mmengine).
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending: Optional[Dict[str, Any]] = None
        self._gathered: Optional[List[Dict[str, Any]]] = None

    def before_run(self, runner) -> None:
        """Distributed runs: gather the states of all ranks when ``runner.save_checkpoint`` is called. Every rank
        calls it, but mmengine's ``Runner.save_checkpoint`` is ``master_only``, so ``before_save_checkpoint`` runs
        on rank 0 alone, where a collective would wait forever for the other ranks."""
        if get_world_size() == 1 or getattr(runner.save_checkpoint, 'gathers_rng_state', False):
            return
        save = runner.save_checkpoint

        @functools.wraps(save)
        def save_checkpoint(*args, **kwargs):
            self._gathered = all_gather_object(get_rng_state())
            try:
                return save(*args, **kwargs)
            finally:
                self._gathered = None

        save_checkpoint.gathers_rng_state = True
        runner.save_checkpoint = save_checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if get_world_size() == 1:
            checkpoint['rng_state'] = [get_rng_state()]
        elif self._gathered is not None:
            checkpoint['rng_state'] = self._gathered

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('rng_state')
        if not states:
            return
        if len(states) != get_world_size():
            print_log(f'RNGStateHook: checkpoint has random states of {len(states)} ranks, the run has '
                      f'{get_world_size()}; random states are not restored', logger='current')
            return
        self._pending = states[get_rank()]

    def before_train_epoch(self, runner) -> None:
        if self._pending is None or runner.iter == 0:  # load_from without resume: keep the fresh seed
            self._pending = None
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator') and loop.iter > 0:
            # IterBasedTrainLoop replays `iter` batches right after this hook
            loop.dataloader_iterator = _RestoreAfterSkip(loop.dataloader_iterator, loop.iter, self._pending)
        else:
            set_rng_state(self._pending)
        self._pending = None
