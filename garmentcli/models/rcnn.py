"""clothNet's two-stage garment detectors: torchvision's Faster R-CNN and Mask R-CNN on the EfficientNet-Lite trunk.

After clothNet (``../shared/reference/seed-methods.md``): a region proposal network and RoI heads on features of an
ImageNet network that was first fine-tuned as a garment classifier (the "grafting",
:mod:`garmentcli.train.graft`). Everything detection-specific is torchvision's: the feature pyramid
(:class:`torchvision.ops.FeaturePyramidNetwork` with its max-pooled extra level), the anchors, the RPN, the
RoIAlign pooling (:class:`torchvision.ops.MultiScaleRoIAlign`) and the box and mask heads, assembled by
torchvision's :class:`~torchvision.models.detection.FasterRCNN` / :class:`~torchvision.models.detection.MaskRCNN`
constructors with their defaults. What is the project's:

- **Trunk**: :class:`~garmentcli.models.efficientnet_lite.EfficientNetLiteTrunk` (its stride-4, -8, -16 and -32
  features are the pyramid's levels "0" to "3", as a ResNet's C2-C5 are torchvision's), kept as ``backbone`` so the
  training loop freezes and loads it as it does every other network's.
- **Input**: the letterboxed photo, float BGR 0..255 (as every network here), normalised by
  :class:`~garmentcli.models.layers.InputNormalization`; torchvision's resizing transform is left out (the input
  already has the network's size), so boxes are in input pixels.
- **Forward** is :class:`~torchvision.models.detection.generalized_rcnn.GeneralizedRCNN`'s without that transform:
  the loss dict in training (targets as padded tensors, :func:`unpad_targets`), the per-image detections otherwise.

:class:`RcnnInference` is the deployed graph: fixed-size, zero-padded outputs (:data:`~garmentcli.models.config.
RCNN_OUTPUTS`), so the backends return arrays as for every model. torchvision's per-image post-processing is
unrolled when the graph is traced, so the ONNX graph takes one image at a time (the onnx backend feeds it so).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from garmentcli.errors import MissingDependencyError, require_torch
from garmentcli.models.config import RCNN_OUTPUTS, FasterRcnnConfig, MaskRcnnConfig
from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk
from garmentcli.models.layers import InputNormalization

torch = require_torch()
nn = torch.nn

try:
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.image_list import ImageList
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import FeaturePyramidNetwork
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
except (ImportError, RuntimeError) as exc:  # RuntimeError: a torchvision built for another torch
    raise MissingDependencyError(
        f"the two-stage detectors need torchvision matching torch {torch.__version__} ({exc})"
    ) from exc

LEVELS = ("0", "1", "2", "3")
"""Names of the trunk's stride-4 to -32 features in the pyramid (torchvision's RoI pooling reads these)."""

BOX_POOL = 7
"""Side of the RoIAlign box features (torchvision's default)."""


def unpad_targets(targets: dict[str, Any]) -> list[dict[str, Any]]:
    """Padded batch targets (``boxes`` (B, N, 4), ``labels`` (B, N), 0 past each image's garments; ``masks``
    (B, N, S, S)) -> torchvision's per-image target dicts."""
    keep = targets["labels"] > 0
    return [
        {name: targets[name][i][keep[i]] for name in ("boxes", "labels", "masks") if name in targets}
        for i in range(len(keep))
    ]


class RcnnNet(nn.Module):
    """Image batch (B, 3, S, S) float BGR 0..255 -> torchvision's loss dict (training, with targets) or its list of
    per-image detections (``boxes`` x0 y0 x1 y1 in input pixels, ``labels``, ``scores``, and ``masks``)."""

    def __init__(self, config: FasterRcnnConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = InputNormalization()
        self.backbone = EfficientNetLiteTrunk(config.backbone)
        channels = config.fpn_channels
        self.fpn = FeaturePyramidNetwork(self.backbone.channels, channels, LastLevelMaxPool())
        self.fpn.out_channels = channels  # what torchvision's constructors read off a backbone
        classes = config.num_categories + 1  # torchvision's class 0 is the background
        parts: dict[str, Any] = {
            "box_head": TwoMLPHead(channels * BOX_POOL**2, config.box_head),
            "box_predictor": FastRCNNPredictor(config.box_head, classes),
            "box_detections_per_img": config.max_detections,
        }
        if isinstance(config, MaskRcnnConfig):
            width = config.mask_channels
            parts["mask_head"] = MaskRCNNHeads(channels, [width] * 4, 1)
            parts["mask_predictor"] = MaskRCNNPredictor(width, width, classes)
        detector = (MaskRCNN if isinstance(config, MaskRcnnConfig) else FasterRCNN)(self.fpn, None, **parts)
        self.rpn = detector.rpn
        self.roi_heads = detector.roi_heads

    def forward(self, images: Any, targets: dict[str, Any] | None = None) -> Any:
        size = self.config.input_size
        sizes = [(size, size)] * images.shape[0]
        normalized = self.normalize(images)
        features = self.fpn(OrderedDict(zip(LEVELS, self.backbone(normalized), strict=True)))
        listed = None if targets is None else unpad_targets(targets)
        batch = ImageList(normalized, sizes)
        proposals, rpn_losses = self.rpn(batch, features, listed)
        detections, head_losses = self.roi_heads(features, proposals, sizes, listed)
        return {**rpn_losses, **head_losses} if self.training else detections


def _padded(values: Any, rows: int) -> Any:
    """``values`` (N, ...) with zero rows appended to ``rows`` (N <= rows: torchvision keeps at most that many)."""
    return torch.cat([values, values.new_zeros((rows, *values.shape[1:]))])[:rows]


class RcnnInference(nn.Module):
    """The deployed graph: every image's detections as fixed-size rows (:data:`~garmentcli.models.config.
    RCNN_OUTPUTS` order; Mask R-CNN's 28 x 28 mask probabilities last), zero past the detections."""

    def __init__(self, network: RcnnNet) -> None:
        super().__init__()
        self.network = network
        self.config = network.config

    def forward(self, images: Any) -> tuple[Any, ...]:
        rows = self.config.max_detections
        detections = self.network(images)
        outputs = [torch.stack([_padded(d[name], rows) for d in detections]) for name in RCNN_OUTPUTS]
        if isinstance(self.config, MaskRcnnConfig):  # (N, 1, 28, 28): the predicted category's mask
            outputs.append(torch.stack([_padded(d["masks"][:, 0], rows) for d in detections]))
        return tuple(outputs)


def build_rcnn(config: FasterRcnnConfig | None = None) -> RcnnNet:
    """A freshly initialised two-stage detector for ``config`` (Faster R-CNN's default config when None)."""
    return RcnnNet(config or FasterRcnnConfig())
