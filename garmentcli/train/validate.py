"""Validation during training: the validation images through the very predictor ``detect`` runs, scored
with the project's own metrics.

The network being trained runs in memory through :meth:`Predictor.for_network
<garmentcli.runtime.predictor.Predictor.for_network>` (the deployed graph's wrapper, the same
letterboxing, batching, decoding with :class:`~garmentcli.models.codec.DecodeOptions` and mapping back
to image pixels as ``garmentkp detect``), so ``best.pt`` is chosen on the decoding users get. The
garments are compared with the ground truth by :func:`garmentcli.metrics.evaluate` (COCO keypoint AP
with the DeepFashion2 sigmas, and box AP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from garmentcli.io.sources import ImageSource
from garmentcli.models.codec import DecodeOptions
from garmentcli.models.config import ClassifierConfig, CropConfig, FasterRcnnConfig, ModelConfig
from garmentcli.runtime.predictor import Predictor
from garmentcli.schema.fld import is_fld
from garmentcli.schema.records import AnnotationSet
from garmentcli.train.data import Sample

BATCH = 16


def predict_samples(
    network: Any,
    config: ModelConfig | FasterRcnnConfig,
    samples: Sequence[Sample],
    device: Any,
    options: DecodeOptions | None = None,
) -> AnnotationSet:
    """The network's garments for every sample, in original-image pixels, exactly as ``detect`` finds them."""
    predictor = Predictor.for_network(network, config, device, options, batch_size=BATCH)
    sources = [ImageSource(sample.path, sample.record.file_name) for sample in samples]
    return AnnotationSet(list(predictor.predict_sources(sources, [sample.record.id for sample in samples])))


def validate(
    network: Any,
    config: ModelConfig,
    samples: Sequence[Sample],
    device: Any,
    options: DecodeOptions | None = None,
) -> dict[str, float]:
    """``val_kp_AP``, ``val_kp_AP50``, ``val_kp_AP75`` and ``val_box_AP`` on ``samples``."""
    from garmentcli.metrics.evaluate import evaluate

    predictions = predict_samples(network, config, samples, device, options)
    truth = AnnotationSet([s.record for s in samples])
    result = evaluate(truth, predictions, metrics=("ap", "box"))
    keypoints, boxes = result["keypoints"], result["bbox"]
    return {
        "val_kp_AP": float(keypoints["AP"]),
        "val_kp_AP50": float(keypoints["AP50"]),
        "val_kp_AP75": float(keypoints["AP75"]),
        "val_box_AP": float(boxes["AP"]),
    }


def validate_boxes(network: Any, config: FasterRcnnConfig, samples: Sequence[Sample], device: Any) -> dict[str, float]:
    """A box-only detector (the two-stage ones) through the predictor as ``detect`` runs it: ``val_box_AP``,
    ``val_box_AP50`` and ``val_box_AP75``. No keypoint AP: it places no landmarks, so ``best.pt`` is picked by box
    AP (:attr:`~garmentcli.train.families.Family.score`)."""
    from garmentcli.metrics.evaluate import evaluate

    predictions = predict_samples(network, config, samples, device)
    boxes = evaluate(AnnotationSet([s.record for s in samples]), predictions, metrics=("box",))["bbox"]
    return {f"val_box_{name}": float(boxes[name]) for name in ("AP", "AP50", "AP75")}


def validate_classifier(
    network: Any, config: ClassifierConfig, samples: Sequence[Sample], device: Any
) -> dict[str, float]:
    """The garment classifier's top-1 ``val_accuracy`` on labelled photos (letterboxed, not augmented)."""
    import torch

    from garmentcli.train.rcnn_data import PhotoClassDataset

    dataset = PhotoClassDataset(samples, config, None)
    training = network.training
    network.eval()
    correct = 0
    try:
        with torch.inference_mode():
            for images, targets in torch.utils.data.DataLoader(dataset, batch_size=BATCH):
                predicted = network(images.to(device).float()).argmax(dim=1).cpu()
                correct += int((predicted == targets["label"]).sum())
    finally:
        network.train(training)
    return {"val_accuracy": correct / len(dataset)}


def predict_on_truth(network: Any, config: CropConfig, samples: Sequence[Sample], device: Any) -> AnnotationSet:
    """A top-down model's landmarks for the ground-truth garments (boxes, categories) of ``samples``, through
    :class:`~garmentcli.runtime.topdown.TopDownLandmarker` as ``detect --landmarks`` runs it."""
    from garmentcli.io.images import read_image
    from garmentcli.runtime.topdown import TopDownLandmarker, torch_runner

    landmarker = TopDownLandmarker(torch_runner(network, device), config, batch_size=BATCH)
    records = []
    for sample in samples:
        garments = [g for g in sample.record.garments if not is_fld(g.category_id)]
        found = [replace(g, score=None) for g in garments]
        (predicted,) = landmarker.landmarks([read_image(sample.path)], [found])
        records.append(replace(sample.record, garments=predicted))
    return AnnotationSet(records)


def validate_topdown(network: Any, config: CropConfig, samples: Sequence[Sample], device: Any) -> dict[str, float]:
    """A top-down model on the ground-truth boxes of ``samples`` (:func:`predict_on_truth`): ``val_kp_AP``,
    ``val_kp_AP50``, ``val_kp_AP75`` and ``val_PCK`` (PCK@0.2 of the box)."""
    from garmentcli.metrics.evaluate import evaluate

    truth = AnnotationSet([s.record for s in samples])
    result = evaluate(truth, predict_on_truth(network, config, samples, device), metrics=("ap", "pck"))
    keypoints = result["keypoints"]
    return {
        "val_kp_AP": float(keypoints["AP"]),
        "val_kp_AP50": float(keypoints["AP50"]),
        "val_kp_AP75": float(keypoints["AP75"]),
        "val_PCK": float(result["landmarks"]["PCK@0.2"]),
    }
