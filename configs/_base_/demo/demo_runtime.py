# Shared by the synthetic_*.py pieces of the CPU demo configs: a fixed seed (demo configs set
# `randomness = {{_base_.demo_randomness}}`), so that a demo run reproduces the README's figures; deterministic
# kernels are not forced (on CPU results still vary slightly with the thread count).
demo_randomness = dict(seed=0, deterministic=False)
