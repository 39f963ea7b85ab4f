# Conv2Former-S (50M / 8.7G) supervised ImageNet-1K training from scratch, 300 epochs, batch 1024: the
# official recipe shared in ./_base_/recipes/conv2former_in1k.py. Drop path 0.4 (ConvNeXt-S's): the
# official code takes it on the command line and does not publish the per-variant value.
# Expected: 84.1 top-1 (official README / paper).
_base_ = './_base_/recipes/conv2former_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.4))
