"""The convolution blocks every network here is made of, and batch-norm folding for deployment.

Each convolution is followed by its batch norm inside one ``nn.Sequential`` (optionally after an
explicit padding and before an activation): :func:`fuse_batch_norm` folds every such pair, which
is the form that is exported to ONNX and that the torch backend loads an ONNX file's weights into.
"""

from __future__ import annotations

from typing import Any

from garmentcli.errors import require_torch

torch = require_torch()
nn = torch.nn

INPUT_MEAN_BGR = (103.53, 116.28, 123.675)
INPUT_STD_BGR = (57.375, 57.12, 58.395)
"""The networks normalise their own input: they take float BGR in 0..255 (ImageNet statistics)."""


class InputNormalization(nn.Module):
    """Float BGR 0..255 (B, 3, H, W) -> ImageNet-normalised, the first step of every network here."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(INPUT_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(INPUT_STD_BGR).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: Any) -> Any:
        return (images - self.mean) * self.inv_std


def conv_bn(
    c_in: int,
    c_out: int,
    kernel: int = 1,
    stride: int = 1,
    groups: int = 1,
    act: type[Any] | None = nn.ReLU,
    same_padding: bool = False,
    bn_eps: float = 1e-5,
    bn_momentum: float = 0.1,
) -> Any:
    """Convolution + batch norm (+ activation).

    Padding is ``kernel // 2``; with ``same_padding`` a strided convolution is padded as TensorFlow's
    "same" does (explicitly, more on the bottom/right), which pretrained TensorFlow weights expect.
    """
    layers: list[Any] = []
    padding = kernel // 2
    if same_padding and stride > 1:
        total = max(kernel - stride, 0)
        layers.append(nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2)))
        padding = 0
    layers += [
        nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(c_out, eps=bn_eps, momentum=bn_momentum),
    ]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (unless ``expansion`` is 1), depthwise, 1x1 project, residual when shapes match.

    ``layer`` options (activation, padding, batch-norm settings) go to every :func:`conv_bn` inside.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int, kernel: int = 3, **layer: Any) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers = [conv_bn(c_in, hidden, **layer)] if expansion != 1 else []
        layers += [
            conv_bn(hidden, hidden, kernel, stride, groups=hidden, **layer),
            conv_bn(hidden, c_out, **{**layer, "act": None}),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Any) -> Any:
        out = self.body(x)
        return x + out if self.residual else out


class SeparableConv(nn.Module):
    """3x3 depthwise then 1x1 pointwise, each with batch norm and ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(c_in, c_in, 3, groups=c_in), conv_bn(c_in, c_out))

    def forward(self, x: Any) -> Any:
        return self.body(x)


def conv_bn_pairs(network: Any) -> list[tuple[Any, int]]:
    """Every ``(sequential, index)`` where a convolution at ``index`` is followed by a batch norm, in module order."""
    pairs = []
    for module in network.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                if isinstance(module[i], nn.Conv2d) and isinstance(module[i + 1], nn.BatchNorm2d):
                    pairs.append((module, i))
    return pairs


def fuse_batch_norm(network: Any) -> Any:
    """Fold every batch norm into the convolution before it (in place, eval mode): the deployed form."""
    network.eval()
    for module, i in conv_bn_pairs(network):
        module[i] = torch.nn.utils.fusion.fuse_conv_bn_eval(module[i], module[i + 1])
        module[i + 1] = nn.Identity()
    return network
