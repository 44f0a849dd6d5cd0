"""Validation during training: predict the validation images, score them with the project's own metrics.

Images are letterboxed without augmentation, the network's heatmap logits go through a sigmoid
(as in the deployed graph), :meth:`TargetCodec.decode` turns the heads into garments, which are
mapped back to original-image pixels and compared with the ground truth by
:func:`garmentcli.metrics.evaluate` (COCO keypoint AP with the DeepFashion2 sigmas, and box AP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from garmentcli.errors import require_torch
from garmentcli.io.images import read_image
from garmentcli.models.network import HEATMAP_HEADS
from garmentcli.runtime.letterbox import letterbox, to_tensor
from garmentcli.schema.records import AnnotationSet, ImageRecord
from garmentcli.train.data import Sample

torch = require_torch()

BATCH = 16


def predict_samples(network: Any, codec: Any, samples: Sequence[Sample], input_size: int, device: Any) -> AnnotationSet:
    """The network's garments for every sample, in original-image pixels (letterboxed as at inference)."""
    was_training = network.training
    network.eval()
    records: list[ImageRecord] = []
    with torch.no_grad():
        for start in range(0, len(samples), BATCH):
            chunk = samples[start : start + BATCH]
            prepared = [letterbox(read_image(sample.path), input_size) for sample in chunk]
            images = torch.from_numpy(to_tensor([canvas for canvas, _ in prepared])).to(device)
            outputs = network(images)
            arrays = {
                name: (torch.sigmoid(value) if name in HEATMAP_HEADS else value).float().cpu().numpy()
                for name, value in outputs.items()
            }
            for (_, box), garments, sample in zip(prepared, codec.decode(arrays), chunk, strict=True):
                record = sample.record
                moved = [box.to_image(g) for g in garments]
                records.append(ImageRecord(record.id, record.file_name, record.width, record.height, moved))
    network.train(was_training)
    return AnnotationSet(records)


def validate(network: Any, codec: Any, samples: Sequence[Sample], input_size: int, device: Any) -> dict[str, float]:
    """``val_kp_AP``, ``val_kp_AP50``, ``val_kp_AP75`` and ``val_box_AP`` on ``samples``."""
    from garmentcli.metrics import evaluate

    predictions = predict_samples(network, codec, samples, input_size, device)
    truth = AnnotationSet([s.record for s in samples])
    result = evaluate(truth, predictions, metrics=("ap", "box"))
    keypoints, boxes = result["keypoints"], result["bbox"]
    return {
        "val_kp_AP": float(keypoints["AP"]),
        "val_kp_AP50": float(keypoints["AP50"]),
        "val_kp_AP75": float(keypoints["AP75"]),
        "val_box_AP": float(boxes["AP"]),
    }
