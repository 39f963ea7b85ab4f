# ConvNeXt V2 IN-1K fine-tuning at 224 (./convnextv2_ft_in1k.py) with mmpretrain's Swin/DeiT-style 224 pipeline
# (RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25, bicubic), 32 images per GPU (x 32 GPUs = 1024).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    './convnextv2_ft_in1k.py',
]
train_dataloader = dict(batch_size=32)
