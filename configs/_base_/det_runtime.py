# mmdet's default runtime plus mmconvmae's RNGStateHook, which stores the random states in checkpoints so
# that `tools/train.py --resume` continues exactly where the run stopped.
_base_ = 'mmdet::_base_/default_runtime.py'
default_hooks = dict(rng_state=dict(type='mmconvmae.RNGStateHook'))
