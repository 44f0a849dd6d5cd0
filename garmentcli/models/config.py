"""The network's hyper-parameters as one JSON-able, validated dataclass, stored in every model card and checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from garmentcli.errors import SchemaError
from garmentcli.schema.layout import DF2
from garmentcli.settings import Int, NonNegativeInt, PositiveFloat, PositiveInt, settings_class

ARCHITECTURE = "garmentkp-centernet-v1"
"""Name of the network family :func:`garmentcli.models.network.build_network` builds."""

SCRATCH_BACKBONE = "inverted-residual"
"""The from-scratch backbone of the first models (``width``, ``depth`` and ``expansion`` shape it)."""

BACKBONES = (SCRATCH_BACKBONE, "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
"""Backbones :func:`garmentcli.models.network.build_network` can build; the EfficientNet-Lite ones start from
ImageNet weights when trained with ``--pretrained`` (the default)."""

OUTPUT_STRIDE = 4
"""Every head is predicted on a grid 4 times coarser than the input."""

HEAD_NAMES = (
    "center_heatmap",
    "center_offset",
    "box_size",
    "landmark_regression",
    "landmark_heatmap",
    "landmark_offset",
)
"""The network's heads, in the order the deployed (ONNX) graph outputs them."""


BackboneName = Literal["inverted-residual", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]


def _known_fields(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    """``data`` when every key is a field of ``cls``; else a :class:`SchemaError` naming the unknown ones."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise SchemaError(f"unknown {what} config keys: {', '.join(sorted(unknown))}")
    return data


class CardConfig:
    """What every network's config shares: a JSON-able dict for cards and checkpoints and back.

    ``kind`` names the config in errors; ``legacy`` holds the values of fields that old dicts lack (written
    before the field existed). Tuples are written as lists.
    """

    kind: ClassVar[str]
    legacy: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Build from a card/checkpoint dict; unknown keys are a :class:`SchemaError`."""
        return cls(**{**cls.legacy, **_known_fields(cls, data, cls.kind)})


@settings_class
class ModelConfig(CardConfig):
    """Shape of the network and of its targets.

    ``backbone`` is one of :data:`BACKBONES`. For the from-scratch backbone, ``width`` is the channel
    count at stride 4 (doubled at each of the three deeper stages), ``depth`` the number of residual
    blocks per stage (strides 4, 8, 16, 32) and ``expansion`` the blocks' expansion ratio; the
    EfficientNet-Lite trunks have their fixed published shapes. ``neck_channels`` is the
    feature-pyramid width and ``head_channels`` the hidden width of each head.

    Every field is checked when the config is made (:func:`~garmentcli.settings.settings_class`):
    whole numbers in range, a known backbone, four depths; a bad one is a one-line :class:`SchemaError`.
    """

    kind: ClassVar[str] = "model"
    legacy: ClassVar[dict[str, Any]] = {"backbone": SCRATCH_BACKBONE}
    """A dict without ``backbone`` was written before the field existed, by a from-scratch model."""

    input_size: PositiveInt = 256
    backbone: BackboneName = "efficientnet-lite0"
    width: PositiveInt = 40
    depth: tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt, NonNegativeInt] = (1, 2, 4, 2)
    expansion: PositiveInt = 4
    neck_channels: PositiveInt = 96
    head_channels: PositiveInt = 96
    num_categories: Int = len(DF2.categories)
    num_groups: Int = len(DF2.semantic_groups)
    max_objects: PositiveInt = 32

    def __post_init__(self) -> None:
        if self.input_size % 32:
            raise SchemaError(f"ModelConfig.input_size must be a positive multiple of 32, got {self.input_size}")
        if self.num_categories != len(DF2.categories) or self.num_groups != len(DF2.semantic_groups):
            raise SchemaError(
                f"ModelConfig predicts {self.num_categories} categories / {self.num_groups} groups; the DeepFashion2 "
                f"layout has {len(DF2.categories)} / {len(DF2.semantic_groups)}"
            )


if set(BackboneName.__args__) != set(BACKBONES):  # pragma: no cover - a development-time check
    raise SchemaError("ModelConfig's backbone choices differ from BACKBONES")


TOPDOWN_ARCHITECTURE = "garmentkp-rtfpose-v1"
"""Name of the top-down landmark family :func:`garmentcli.models.topdown.build_topdown` builds."""

TOPDOWN_OUTPUTS = ("simcc_x", "simcc_y")
"""The deployed top-down graph's outputs: SimCC logits over the x bins and the y bins of each landmark group."""

TOPDOWN_BACKBONES = BACKBONES[1:]
"""The top-down models always start from an ImageNet-pretrainable EfficientNet-Lite trunk."""

TopDownBackbone = Literal["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]


def _check_crop(name: str, width: int, height: int, groups: int) -> None:
    """A top-down model's crop is whole multiples of 32 and it predicts the DeepFashion2 layout's groups."""
    if width % 32 or height % 32:
        raise SchemaError(f"{name} input must be multiples of 32, got {width} x {height}")
    if groups != len(DF2.semantic_groups):
        raise SchemaError(
            f"{name} predicts {groups} landmark groups; the DeepFashion2 layout has {len(DF2.semantic_groups)}"
        )


def _check_heads(heads: tuple[str, ...]) -> None:
    """A per-group model's ``heads``: one per category, each the shared head or the category's garment group."""
    from garmentcli.schema.garment_groups import SHARED_HEAD, group_of

    if len(heads) != len(DF2.categories):
        raise SchemaError(f"TopDownConfig.heads names {len(heads)} heads; one per category ({len(DF2.categories)})")
    for category, head in zip(DF2.categories, heads, strict=True):
        if head not in (SHARED_HEAD, group_of(category.id)):
            raise SchemaError(
                f"TopDownConfig.heads: {category.name} takes the {SHARED_HEAD} or the {group_of(category.id)} head, "
                f"not {head!r}"
            )


@settings_class
class TopDownConfig(CardConfig):
    """Shape of the RTFPose-style top-down landmark network and of its SimCC targets.

    The input is one garment's crop, ``input_width`` x ``input_height`` (multiples of 32); the output is,
    for every semantic landmark group (:attr:`~garmentcli.schema.layout.Layout.semantic_groups`), a
    distribution over ``split_ratio`` bins per pixel on each axis (:class:`~garmentcli.models.simcc.SimccCodec`
    with ``sigma``). ``mecs``, ``csff`` and ``safe`` switch the three RTFPose modules on (for the
    ablation); ``channels`` is the width of the fused features and ``hidden`` that of the SimCC
    classifiers' shared layer. ``heads`` is empty for a model with one head; a per-group model
    (:mod:`garmentcli.train.group_heads`) names, for each DeepFashion2 category in id order, the head its
    landmarks come from: :data:`~garmentcli.schema.garment_groups.SHARED_HEAD` or the category's garment group.
    """

    kind: ClassVar[str] = "top-down"

    input_width: PositiveInt = 192
    input_height: PositiveInt = 256
    backbone: TopDownBackbone = "efficientnet-lite0"
    channels: PositiveInt = 128
    hidden: PositiveInt = 256
    split_ratio: Annotated[float, Field(gt=0.0, le=4.0)] = 2.0
    sigma: tuple[PositiveFloat, PositiveFloat] = (4.9, 5.66)
    mecs: bool = True
    csff: bool = True
    safe: bool = True
    num_groups: Int = len(DF2.semantic_groups)
    heads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_crop("TopDownConfig", self.input_width, self.input_height, self.num_groups)
        if self.heads:
            _check_heads(self.heads)


CSPN_ARCHITECTURE = "garmentkp-cspn-v1"
"""Name of the cascaded pyramid landmark family :func:`garmentcli.models.cspn.build_cspn` builds."""

CSPN_OUTPUTS = ("heatmaps",)
"""The deployed CSPN graph's output: the last stage's heatmap of each landmark group."""

CSPN_STRIDES = (16, 8, 4)
"""Strides (crop pixels per cell) of the three maps of every CSPN stage, coarsest first; the heatmaps are on the
finest. See :mod:`garmentcli.models.cspn` for why these and not the paper's 64, 128 and 256 cells."""


@settings_class
class CspnConfig(CardConfig):
    """Shape of the CSPN-style cascaded pyramid landmark network and of its heatmap targets.

    The input is one garment's crop, ``input_width`` x ``input_height`` (multiples of 32), cut as for
    :class:`TopDownConfig`; ``stages`` cascaded pyramid stages (the paper's 4) of ``channels``-wide maps at
    :data:`CSPN_STRIDES`; each stage gives one heatmap per semantic landmark group on the finest map, with
    Gaussian targets of ``sigma`` cells (:class:`~garmentcli.models.heatmap.HeatmapCodec`).
    """

    kind: ClassVar[str] = "cspn"

    input_width: PositiveInt = 192
    input_height: PositiveInt = 256
    backbone: TopDownBackbone = "efficientnet-lite0"
    channels: PositiveInt = 128
    stages: PositiveInt = 4
    sigma: PositiveFloat = 2.0
    num_groups: Int = len(DF2.semantic_groups)

    def __post_init__(self) -> None:
        _check_crop("CspnConfig", self.input_width, self.input_height, self.num_groups)


CropConfig = TopDownConfig | CspnConfig
"""The config of either top-down landmark model (one garment's crop in, its landmarks out)."""


KGDET_ARCHITECTURE = "garmentkp-kgdet-v1"
"""Name of the keypoint-guided one-stage detector family :func:`garmentcli.models.kgdet.build_kgdet` builds."""

KGDET_OUTPUTS = ("scores", "boxes", "keypoints", "visibility")
"""The deployed KGDet graph's outputs, one row per location of every head level (coarsest last): category scores
(B, L, C) after the sigmoid, boxes (B, L, 4) ``x0, y0, x1, y1``, keypoints (B, L, G, 2) ``x, y`` (input pixels), and
each keypoint's visibility score (B, L, G) after the sigmoid, G the semantic landmark groups."""

KGDET_STRIDES = (8, 16, 32)
"""Feature-pyramid strides a KGDet head may run on (:attr:`KgdetConfig.strides` picks some)."""


@settings_class
class KgdetConfig(CardConfig):
    """Shape of the KGDet-style keypoint-guided detector (:mod:`garmentcli.models.kgdet`) and of its targets.

    The input is a ``input_size`` square (a multiple of 32), letterboxed as for :class:`ModelConfig`. The
    EfficientNet-Lite ``backbone`` feeds a ``neck_channels``-wide feature pyramid; the shared heads
    (``head_channels`` wide) run on every level of ``strides`` (increasing, from :data:`KGDET_STRIDES`; the coarse
    ones suffice for garments). From every location they regress the offsets to all semantic landmark groups,
    derive ``informative_points`` informative keypoints from them (``encoded``: a learned 1 x 1 convolution of all
    the offsets; ``selected``: the ones of highest predicted visibility), make the box from those, and refine the
    offsets in ``refinements`` cascaded stages, each gathering features at the previous stage's informative
    keypoints with a deformable convolution whose kernel has one tap per keypoint (so their number is a square).
    """

    kind: ClassVar[str] = "kgdet"

    input_size: PositiveInt = 256
    backbone: TopDownBackbone = "efficientnet-lite0"
    neck_channels: PositiveInt = 96
    head_channels: PositiveInt = 96
    strides: tuple[PositiveInt, ...] = (16, 32)
    informative: Literal["encoded", "selected"] = "encoded"
    informative_points: PositiveInt = 9
    refinements: NonNegativeInt = 2
    num_categories: Int = len(DF2.categories)
    num_groups: Int = len(DF2.semantic_groups)
    max_objects: PositiveInt = 32

    def __post_init__(self) -> None:
        if self.input_size % 32:
            raise SchemaError(f"KgdetConfig.input_size must be a positive multiple of 32, got {self.input_size}")
        if (
            not self.strides
            or any(s not in KGDET_STRIDES for s in self.strides)
            or list(self.strides) != sorted(set(self.strides))
        ):
            raise SchemaError(
                f"KgdetConfig.strides must be increasing strides from {', '.join(map(str, KGDET_STRIDES))}, "
                f"got {list(self.strides)}"
            )
        side = math.isqrt(self.informative_points)
        if side * side != self.informative_points or self.informative_points > self.num_groups:
            raise SchemaError(
                "KgdetConfig.informative_points must be a square (one deformable-kernel tap each: 4, 9, 16 ...) "
                f"of at most {self.num_groups}, got {self.informative_points}"
            )
        if self.num_categories != len(DF2.categories) or self.num_groups != len(DF2.semantic_groups):
            raise SchemaError(
                f"KgdetConfig predicts {self.num_categories} categories / {self.num_groups} groups; the DeepFashion2 "
                f"layout has {len(DF2.categories)} / {len(DF2.semantic_groups)}"
            )

    @property
    def kernel(self) -> int:
        """Side of the deformable kernel: one tap per informative keypoint."""
        return math.isqrt(self.informative_points)


FASTERRCNN_ARCHITECTURE = "garmentkp-fasterrcnn-v1"
"""Name of the two-stage box detector (clothNet's Faster R-CNN) :func:`garmentcli.models.rcnn.build_rcnn` builds."""

MASKRCNN_ARCHITECTURE = "garmentkp-maskrcnn-v1"
"""Name of the two-stage box and mask detector (clothNet's Mask R-CNN)."""

RCNN_OUTPUTS = ("boxes", "scores", "labels")
"""The deployed two-stage graph's outputs, per image :attr:`FasterRcnnConfig.max_detections` rows, best first,
zero-padded (score 0): boxes ``x0, y0, x1, y1`` in input pixels, scores, categories 1..13."""

MASK_OUTPUTS = (*RCNN_OUTPUTS, "masks")
"""Mask R-CNN's outputs: those of :data:`RCNN_OUTPUTS` and each box's mask probabilities on a 28 x 28 grid over
its box."""


def _check_detector(name: str, input_size: int, categories: int) -> None:
    """A detector's square input is a whole multiple of 32 and it predicts the 13 DeepFashion2 categories."""
    if input_size % 32:
        raise SchemaError(f"{name}.input_size must be a positive multiple of 32, got {input_size}")
    if categories != len(DF2.categories):
        raise SchemaError(f"{name} predicts {categories} categories; the DeepFashion2 layout has {len(DF2.categories)}")


@settings_class
class FasterRcnnConfig(CardConfig):
    """Shape of the two-stage garment detector (torchvision's Faster R-CNN on an EfficientNet-Lite trunk).

    The input is the letterboxed photo, ``input_size`` square (a multiple of 32). The trunk's four levels (strides
    4 to 32) feed a ``fpn_channels``-wide feature pyramid (plus its max-pooled level); the RoI box head is
    torchvision's two fully connected layers of ``box_head`` units; at most ``max_detections`` garments per
    image are kept.
    """

    kind: ClassVar[str] = "fasterrcnn"

    input_size: PositiveInt = 512
    backbone: TopDownBackbone = "efficientnet-lite0"
    fpn_channels: PositiveInt = 128
    box_head: PositiveInt = 1024
    max_detections: PositiveInt = 20
    num_categories: Int = len(DF2.categories)

    def __post_init__(self) -> None:
        _check_detector(type(self).__name__, self.input_size, self.num_categories)


@settings_class
class MaskRcnnConfig(FasterRcnnConfig):
    """:class:`FasterRcnnConfig` plus torchvision's Mask R-CNN mask head: four 3 x 3 convolutions of
    ``mask_channels`` on 14 x 14 RoI features, then a 28 x 28 mask per category."""

    kind: ClassVar[str] = "maskrcnn"

    mask_channels: PositiveInt = 256


CLASSIFIER_ARCHITECTURE = "garmentkp-classifier-v1"
"""Name of the garment classifier (the backbone clothNet grafts onto its detector) :func:`garmentcli.models.
classifier.build_classifier` builds."""


@settings_class
class ClassifierConfig(CardConfig):
    """Shape of the garment-photo classifier: the EfficientNet-Lite trunk, global average pooling, dropout and one
    linear layer to ``classes``, the photo folders of its training data (set from the data when empty)."""

    kind: ClassVar[str] = "classifier"

    input_size: PositiveInt = 224
    backbone: TopDownBackbone = "efficientnet-lite0"
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.2
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.input_size % 32:
            raise SchemaError(f"ClassifierConfig.input_size must be a positive multiple of 32, got {self.input_size}")
        if len(set(self.classes)) != len(self.classes):
            raise SchemaError(f"ClassifierConfig.classes repeats a name: {', '.join(self.classes)}")


DetectorConfig = ModelConfig | KgdetConfig | FasterRcnnConfig
"""The config of a detector (a letterboxed photo in, garments out): one-stage or two-stage."""

AnyConfig = ModelConfig | TopDownConfig | CspnConfig | KgdetConfig | FasterRcnnConfig | ClassifierConfig
"""Every network's config (:class:`MaskRcnnConfig` is a :class:`FasterRcnnConfig`)."""

CONFIG_TYPES: dict[str, type[AnyConfig]] = {
    ARCHITECTURE: ModelConfig,
    TOPDOWN_ARCHITECTURE: TopDownConfig,
    CSPN_ARCHITECTURE: CspnConfig,
    KGDET_ARCHITECTURE: KgdetConfig,
    FASTERRCNN_ARCHITECTURE: FasterRcnnConfig,
    MASKRCNN_ARCHITECTURE: MaskRcnnConfig,
    CLASSIFIER_ARCHITECTURE: ClassifierConfig,
}
"""Each architecture name (in cards and checkpoints) -> the config class of its network."""

OUTPUT_NAMES = {
    ARCHITECTURE: HEAD_NAMES,
    TOPDOWN_ARCHITECTURE: TOPDOWN_OUTPUTS,
    CSPN_ARCHITECTURE: CSPN_OUTPUTS,
    KGDET_ARCHITECTURE: KGDET_OUTPUTS,
    FASTERRCNN_ARCHITECTURE: RCNN_OUTPUTS,
    MASKRCNN_ARCHITECTURE: MASK_OUTPUTS,
}
"""Each exported architecture -> its deployed graph's outputs (the classifier is never exported: only its trunk is
used, grafted onto a detector)."""


def config_type(architecture: str | None) -> type[AnyConfig]:
    """The config class of a card's or checkpoint's architecture name; the detector's when there is none (written
    before the top-down models existed) or an unknown one (which the card then refuses)."""
    return CONFIG_TYPES.get(architecture or ARCHITECTURE, ModelConfig)


def architecture_of(config: AnyConfig) -> str:
    """The architecture name of a config's network (by its exact class: a Mask R-CNN config is also a Faster R-CNN
    one)."""
    return next(name for name, kind in CONFIG_TYPES.items() if type(config) is kind)


CATEGORY_INPUT = "categories"
"""A per-group RTFPose model's second graph input: each crop's category id, (B,) int64, which picks its head."""


def takes_categories(config: AnyConfig) -> bool:
    """Whether the deployed graph of ``config`` takes :data:`CATEGORY_INPUT` beside the crops (a per-group model)."""
    return isinstance(config, TopDownConfig) and bool(config.heads)


def output_names(config: AnyConfig) -> tuple[str, ...]:
    """The deployed graph's outputs, in order: the detector's heads, the RTFPose model's SimCC logits, CSPN's
    heatmaps, KGDet's per-location scores, boxes, keypoints and visibilities, or the two-stage detectors' boxes (and
    masks)."""
    return OUTPUT_NAMES[architecture_of(config)]
