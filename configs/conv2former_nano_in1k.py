# Conv2Former-N (15M / 2.2G) supervised ImageNet-1K training from scratch, 300 epochs, batch 1024: the
# official recipe shared in ./_base_/recipes/conv2former_in1k.py. Drop path 0.1 (the smallest model; no ConvNeXt
# counterpart): the official code takes it on the command line and does not publish the per-variant value.
# Expected: 81.5 top-1 (official README / paper).
_base_ = './_base_/recipes/conv2former_in1k.py'

model = dict(backbone=dict(arch='nano', drop_path_rate=0.1))
