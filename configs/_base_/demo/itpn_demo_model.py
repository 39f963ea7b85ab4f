# The tiny HiViT / pyramid shared by every iTPN demo config, so that the pretraining demo's checkpoint fills the
# Mask R-CNN and UperNet demo models (backbone and neck) with nothing missing: E = 64 (C4/C8/C16 = 16/32/64 ch),
# stem 1/1 MLP blocks, 2 global-attention blocks, pretrained on 64x64 crops (4x4 units), pyramid width 64.
itpn_demo = dict(arch=dict(_delete_=True, embed_dims=64, depths=[1, 1, 2], num_heads=2), img_size=64, fpn_dim=64)
