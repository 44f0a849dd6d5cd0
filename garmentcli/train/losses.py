"""The training losses: penalty-reduced focal loss on heatmaps, masked L1 on regressions; SimCC KL divergence;
CSPN's heatmap mean squared error with online hard landmark mining; KGDet's scores, visibilities, keypoints and boxes.

Both follow CenterNet (Zhou et al., 2019), the detector DeepMark++ builds on: the focal loss
sees every heatmap pixel, down-weighting negatives near a peak by ``(1 - target) ** beta``;
the L1 losses only count the places a mask marks (object centres, labelled landmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from garmentcli.errors import require_torch

torch = require_torch()
functional = torch.nn.functional


def focal_loss(logits: Any, target: Any, alpha: float = 2.0, beta: float = 4.0, mask: Any = None) -> Any:
    """CenterNet's focal loss between heatmap logits and a Gaussian-splatted target in [0, 1].

    Normalised by the number of peaks (pixels where the target is 1), at least one. ``mask``
    (broadcast to the heatmaps, e.g. ``(B, C, 1, 1)``) keeps only the channels it marks.
    """
    logits = logits.float()
    target = target.float()
    positive = target.ge(1.0).float()
    log_p = functional.logsigmoid(logits)
    log_not_p = functional.logsigmoid(-logits)
    prob = log_p.exp()
    positive_term = log_p * (1 - prob).pow(alpha) * positive
    negative_term = log_not_p * prob.pow(alpha) * (1 - target).pow(beta) * (1 - positive)
    terms = positive_term + negative_term
    if mask is not None:
        terms = terms * mask.float()
    return -terms.sum() / positive.sum().clamp(min=1.0)


def masked_l1(prediction: Any, target: Any, mask: Any) -> Any:
    """Mean absolute error over the entries where ``mask`` is non-zero (mask broadcasts to the target)."""
    prediction = prediction.float()
    mask = mask.float().expand_as(target)
    return (torch.abs(prediction - target.float()) * mask).sum() / mask.sum().clamp(min=1.0)


def gather_at(feature: Any, indices: Any) -> Any:
    """``(B, C, H, W)`` map, ``(B, N)`` flat pixel indices -> the ``(B, N, C)`` vectors at those pixels."""
    batch, channels = feature.shape[:2]
    flat = feature.reshape(batch, channels, -1)
    picked = torch.gather(flat, 2, indices.long().unsqueeze(1).expand(batch, channels, indices.shape[1]))
    return picked.transpose(1, 2)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (CenterNet's multi-pose defaults: sizes at 0.1, everything else 1)."""

    center_heatmap: float = 1.0
    center_offset: float = 1.0
    box_size: float = 0.1
    landmark_regression: float = 1.0
    landmark_heatmap: float = 1.0
    landmark_offset: float = 1.0
    weak_category: float = 1.0
    """Weakly-labelled photos: an allowed category must fire somewhere (see :func:`weak_category_loss`)."""


def gather_landmark_offsets(feature: Any, indices: Any) -> Any:
    """``(B, 2G, H, W)`` offsets, ``(B, M, G)`` landmark cells -> ``(B, M, G, 2)``: group g read at its own cell."""
    batch, channels = feature.shape[:2]
    groups, slots = channels // 2, indices.shape[1]
    flat = feature.reshape(batch, groups, 2, -1)
    cells = indices.long().permute(0, 2, 1).unsqueeze(2).expand(batch, groups, 2, slots)
    return torch.gather(flat, 3, cells).permute(0, 3, 1, 2)


def weak_category_loss(logits: Any, allowed: Any, weak: Any, alpha: float = 2.0) -> Any:
    """Partial-label loss of weakly-labelled photos that show a garment: its category is one of ``allowed``.

    Multiple-instance form: the photo's score for a category is its centre heatmap's peak, and the
    best-scoring allowed category is pushed up with a focal-weighted log loss (the categories it
    cannot be are pushed down everywhere by the masked centre focal loss). Mean over those photos.
    """
    allowed = allowed.float()
    shows = weak.float() * (allowed.sum(dim=1) > 0).float()
    peaks = logits.float().flatten(2).amax(dim=2)
    best = peaks.masked_fill(allowed == 0, -1e4).amax(dim=1)
    prob = torch.sigmoid(best)
    terms = -functional.logsigmoid(best) * (1 - prob).pow(alpha)
    return (terms * shows).sum() / shows.sum().clamp(min=1.0)


def detection_losses(outputs: dict[str, Any], targets: dict[str, Any], weights: LossWeights) -> dict[str, Any]:
    """Every loss term of a batch (head outputs vs. :meth:`TargetCodec.encode` targets) and their weighted sum.

    Returns ``{"loss": total, "loss_<head>": term, ...}``. Batches may mix fully annotated images with
    weakly-labelled photos (targets ``weak`` and ``allowed``, see :func:`garmentcli.train.data.weak_targets`);
    without those targets every image counts as fully annotated.
    """
    batch, slots = targets["indices"].shape
    num_categories = outputs["center_heatmap"].shape[1]
    weak_flag = targets.get("weak", torch.zeros(batch, device=targets["indices"].device))
    allowed_set = targets.get("allowed", torch.zeros(batch, num_categories, device=weak_flag.device))
    weak = weak_flag.float().view(-1, 1, 1, 1)
    allowed = allowed_set.float()[..., None, None]
    # a weakly-labelled photo teaches the centre heatmaps of the categories it cannot show (all of
    # them for a hard negative) and, when it shows no garment at all, the landmark heatmaps
    centre_mask = 1 - weak * allowed
    negative = weak * (allowed.sum(dim=1, keepdim=True) == 0).float()
    landmark_mask = (1 - weak) + negative
    objects = targets["object_mask"].unsqueeze(-1)
    landmarks = targets["landmark_mask"].unsqueeze(-1)
    regression = gather_at(outputs["landmark_regression"], targets["indices"]).reshape(batch, slots, -1, 2)
    terms = {
        "center_heatmap": focal_loss(outputs["center_heatmap"], targets["center_heatmap"], mask=centre_mask),
        "center_offset": masked_l1(
            gather_at(outputs["center_offset"], targets["indices"]), targets["center_offset"], objects
        ),
        "box_size": masked_l1(gather_at(outputs["box_size"], targets["indices"]), targets["box_size"], objects),
        "landmark_regression": masked_l1(regression, targets["landmark_regression"], landmarks),
        "landmark_heatmap": focal_loss(outputs["landmark_heatmap"], targets["landmark_heatmap"], mask=landmark_mask),
        "landmark_offset": masked_l1(
            gather_landmark_offsets(outputs["landmark_offset"], targets["landmark_indices"]),
            targets["landmark_offset"],
            landmarks,
        ),
        "weak_category": weak_category_loss(outputs["center_heatmap"], allowed_set, weak_flag),
    }
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    return {"loss": total, **{f"loss_{name}": value for name, value in terms.items()}}


def simcc_losses(outputs: tuple[Any, Any], targets: dict[str, Any]) -> dict[str, Any]:
    """The top-down model's loss: KL divergence from each landmark's smoothed SimCC target to the softmax of its
    logits, per axis, averaged over the landmarks whose ``weight`` is 1 (RTMPose's KL loss without the
    temperature). Returns ``loss`` and the two axes' terms."""
    weight = targets["weight"].float()
    count = weight.sum().clamp(min=1.0)
    terms = {}
    for axis, logits in zip("xy", outputs, strict=True):
        log_p = functional.log_softmax(logits.float(), dim=-1)
        kl = functional.kl_div(log_p, targets[f"simcc_{axis}"].float(), reduction="none").sum(-1)
        terms[f"loss_simcc_{axis}"] = (kl * weight).sum() / count
    return {"loss": terms["loss_simcc_x"] + terms["loss_simcc_y"], **terms}


HARD_LANDMARKS = 4
"""CSPN's K: the stages after the first learn only from the K landmarks of each garment with the largest loss."""


def heatmap_errors(heatmaps: Any, target: Any) -> Any:
    """``(B, G, h, w)`` predicted and target heatmaps -> the mean squared error of each map, ``(B, G)``."""
    return (heatmaps.float() - target.float()).pow(2).flatten(2).mean(2)


def hardest_landmarks(errors: Any, weight: Any, k: int = HARD_LANDMARKS) -> Any:
    """Online hard landmark mining: a ``(B, G)`` 0/1 mask of the ``k`` largest ``errors`` of each garment (row)
    among the landmarks whose ``weight`` is non-zero; all of those when there are fewer."""
    counted = weight > 0
    ranked = errors.detach().float().masked_fill(~counted, -torch.inf)
    top = ranked.topk(min(k, errors.shape[1]), dim=1).indices
    return torch.zeros_like(ranked).scatter(1, top, 1.0) * counted


def cspn_losses(outputs: Sequence[Any], targets: dict[str, Any], k: int = HARD_LANDMARKS) -> dict[str, Any]:
    """The CSPN model's loss: each stage's heatmap mean squared error, averaged over the landmarks whose ``weight``
    is 1 in the first stage and over each garment's ``k`` hardest of them (:func:`hardest_landmarks`) in the
    later ones; ``loss`` is the sum of the stages' terms ``loss_stage1``, ``loss_stage2``, ..."""
    weight = targets["weight"].float()
    terms = {}
    for stage, heatmaps in enumerate(outputs, 1):
        errors = heatmap_errors(heatmaps, targets["heatmaps"])
        chosen = weight if stage == 1 else hardest_landmarks(errors, weight, k)
        terms[f"loss_stage{stage}"] = (errors * chosen).sum() / chosen.sum().clamp(min=1.0)
    return {"loss": sum(terms.values()), **terms}


KGDET_STAGE_WEIGHTS = (0.5, 1.0)
"""Weight of the KGDet keypoint and box losses of the initial stage, and of each refinement stage (RepPoints')."""

KGDET_BETA = 1 / 9
"""Smooth L1's change point for KGDet's keypoints and boxes, in units of ``POINT_SCALE`` cells (RepPoints' 0.11)."""


def masked_smooth_l1(prediction: Any, target: Any, mask: Any, scale: float, beta: float = KGDET_BETA) -> Any:
    """Mean smooth L1 between ``prediction / scale`` and ``target / scale`` over the entries ``mask`` marks (it
    broadcasts to the target)."""
    mask = mask.float().expand_as(target)
    error = functional.smooth_l1_loss(prediction.float() / scale, target.float() / scale, reduction="none", beta=beta)
    return (error * mask).sum() / mask.sum().clamp(min=1.0)


def kgdet_losses(outputs: dict[str, Any], targets: dict[str, Any]) -> dict[str, Any]:
    """The KGDet model's loss (:class:`~garmentcli.models.kgdet.KgdetNet` outputs vs.
    :meth:`~garmentcli.models.kgdet_codec.KgdetCodec.encode` targets).

    ``loss_scores``: the focal loss on every location's category scores. At each garment's location:
    ``loss_visibility``, binary cross-entropy of every group's visibility logit against whether the garment has that
    landmark labelled; per stage ``s`` (0 the initial one), ``loss_points<s>``: smooth L1 of the labelled keypoints'
    offsets, and ``loss_box<s>``: smooth L1 of the keypoint-made box's corners (both in cells over
    :data:`~garmentcli.models.kgdet_codec.POINT_SCALE`). ``loss`` adds them, the stages' weighted by
    :data:`KGDET_STAGE_WEIGHTS`.
    """
    from garmentcli.models.kgdet_codec import POINT_SCALE

    indices, objects = targets["indices"], targets["object_mask"]
    point_mask = targets["point_mask"]
    terms = {
        "scores": focal_loss(outputs["scores"], targets["heatmap"]),
        "visibility": (
            functional.binary_cross_entropy_with_logits(
                gather_rows(outputs["visibility"], indices).float(), point_mask.float(), reduction="none"
            ).mean(-1)
            * objects
        ).sum()
        / objects.sum().clamp(min=1.0),
    }
    total = terms["scores"] + terms["visibility"]
    for stage, (points, boxes) in enumerate(zip(outputs["points"], outputs["boxes"], strict=True)):
        weight = KGDET_STAGE_WEIGHTS[min(stage, 1)]
        terms[f"points{stage}"] = masked_smooth_l1(
            gather_rows(points, indices), targets["points"], point_mask.unsqueeze(-1), POINT_SCALE
        )
        terms[f"box{stage}"] = masked_smooth_l1(
            gather_rows(boxes, indices), targets["boxes"], objects.unsqueeze(-1), POINT_SCALE
        )
        total = total + weight * (terms[f"points{stage}"] + terms[f"box{stage}"])
    return {"loss": total, **{f"loss_{name}": value for name, value in terms.items()}}


def gather_rows(values: Any, indices: Any) -> Any:
    """``(B, L, ...)`` per-location values, ``(B, M)`` location indices -> ``(B, M, ...)``."""
    index = indices.long().view(*indices.shape, *([1] * (values.dim() - 2))).expand(-1, -1, *values.shape[2:])
    return torch.gather(values, 1, index)


def rcnn_losses(outputs: dict[str, Any]) -> dict[str, Any]:
    """torchvision's two-stage loss terms (``loss_objectness``, ``loss_rpn_box_reg``, ``loss_classifier``,
    ``loss_box_reg``, and ``loss_mask`` for Mask R-CNN) and ``loss``, their sum (torchvision's weighting: all 1)."""
    return {**outputs, "loss": sum(outputs.values())}


def classifier_losses(logits: Any, targets: dict[str, Any]) -> dict[str, Any]:
    """Cross-entropy of the photo's folder (``loss``, and ``accuracy`` of the batch for the log)."""
    labels = targets["label"]
    loss = functional.cross_entropy(logits.float(), labels)
    return {"loss": loss, "accuracy": (logits.argmax(dim=1) == labels).float().mean()}
