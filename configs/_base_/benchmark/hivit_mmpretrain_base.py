# Our HiViT with mmpretrain's `base` arch (stem blocks 4/4, 24 main blocks; mmpretrain doubles its stem depths
# [2, 2, 24]), so that it can be timed against mmpretrain's HiViT (the backbone of its iTPNHiViT) with the same
# weights: see the `hivit_vs_mmpretrain` entry of tools/analysis/run_benchmarks.py. Not a training config.
_base_ = ['../../itpn_base_ft_in1k.py']
model = dict(backbone=dict(arch=dict(_delete_=True, embed_dims=512, depths=[4, 4, 24], num_heads=8),
                      out_type='featmap', out_indices=(2, ), init_cfg=None))
