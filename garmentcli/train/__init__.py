"""Training: datasets with layout-aware augmentation, losses, the loop, checkpoints and logs (needs torch)."""
