from .demo import EarlyLoggerHook, LastOptimizerCheckpointHook
from .rng_state import RNGStateHook

__all__ = ['RNGStateHook', 'EarlyLoggerHook', 'LastOptimizerCheckpointHook']
