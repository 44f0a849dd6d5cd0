"""Landmarks from the top-down model for garments whose boxes and categories are known.

:class:`TopDownLandmarker` cuts every garment's crop (:class:`~garmentcli.runtime.crops.GarmentCrop`),
runs the network on batches of crops, decodes its outputs (the RTFPose model's SimCC logits with
:class:`~garmentcli.models.simcc.SimccCodec`, the CSPN model's heatmaps with
:class:`~garmentcli.models.heatmap.HeatmapCodec`) and gives each garment the landmarks of its category in
image pixels, with each landmark's score as ``v`` (as the one-stage decoder does). Boxes, categories and ids
stay as given; a garment without a score gets the mean of its landmark scores. This is the one way top-down
landmarks are made: ``detect --landmarks``, ``measure`` and training's validation all go through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from garmentcli.errors import InputError
from garmentcli.io.images import read_image
from garmentcli.io.sources import ImageSource
from garmentcli.models.config import (
    CATEGORY_INPUT,
    CSPN_STRIDES,
    CropConfig,
    CspnConfig,
    output_names,
    takes_categories,
)
from garmentcli.models.heatmap import HeatmapCodec
from garmentcli.models.registry import ModelFiles
from garmentcli.models.simcc import SimccCodec
from garmentcli.runtime.crops import GarmentCrop
from garmentcli.runtime.timing import StageTimer
from garmentcli.schema.fld import is_fld
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment, ImageRecord

CropRunner = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]
"""float32 crops (B, 3, H, W), BGR 0..255, and their garments' category ids (B,) int64 -> the deployed graph's
outputs, in :func:`~garmentcli.models.config.output_names` order: SimCC logits x (B, G, W * r) and y (B, G, H * r),
or CSPN heatmaps (B, G, H / 4, W / 4). Only a per-group model's graph reads the category ids
(:func:`~garmentcli.models.config.takes_categories`: they pick each crop's head)."""


def codec_of(config: CropConfig) -> SimccCodec | HeatmapCodec:
    """The codec of a top-down model's outputs: the RTFPose model's SimCC bins, or CSPN's heatmaps (crop size,
    resolution, target widths)."""
    if isinstance(config, CspnConfig):
        return HeatmapCodec(config.input_width, config.input_height, CSPN_STRIDES[-1], config.sigma)
    return SimccCodec(config.input_width, config.input_height, config.split_ratio, config.sigma)


class TopDownLandmarker:
    """Replaces the landmarks of given garments with the top-down model's."""

    def __init__(
        self, run: CropRunner, config: CropConfig, batch_size: int = 16, model: ModelFiles | None = None
    ) -> None:
        self.run = run
        self.config = config
        self.model = model
        """The model files it runs (outputs record their name and hash), None for an in-memory network."""
        self.codec = codec_of(config)
        self.batch_size = batch_size

    def crop(self, garment: Garment) -> GarmentCrop:
        return GarmentCrop.around(garment.bbox, self.config.input_width, self.config.input_height)

    def landmarks(self, images: Sequence[np.ndarray], garments: Sequence[Sequence[Garment]]) -> list[list[Garment]]:
        """For each image, its garments with the model's landmarks (in image pixels, score as ``v``)."""
        jobs = [(i, j) for i, found in enumerate(garments) for j in range(len(found))]
        result = [list(found) for found in garments]
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start : start + self.batch_size]
            crops = [self.crop(garments[i][j]) for i, j in chunk]
            batch = np.stack([c.cut(images[i]) for c, (i, _) in zip(crops, chunk, strict=True)])
            categories = np.array([garments[i][j].category_id for i, j in chunk], dtype=np.int64)
            outputs = self.run(np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32), categories)
            points, scores = self.codec.decode(*outputs)  # (B, G, 2), (B, G)
            for k, ((i, j), crop) in enumerate(zip(chunk, crops, strict=True)):
                garment = garments[i][j]
                groups = DF2.group_of[garment.category.slice]
                height, width = images[i].shape[:2]
                xy = np.clip(crop.to_image(points[k, groups]), 0, [width, height])  # as Letterbox.to_image clips
                landmarks = np.column_stack([xy, scores[k, groups]])
                score = garment.score if garment.score is not None else float(landmarks[:, 2].mean())
                result[i][j] = replace(garment, landmarks=landmarks, score=score)
        return result


def torch_runner(network: Any, device: Any = "cpu") -> CropRunner:
    """An in-memory torch top-down network as a :data:`CropRunner`, through the deployed graph's module
    (:func:`~garmentcli.models.export.deployed_module`; eval and inference mode for each call, its mode restored
    after): what training's validation runs."""
    from garmentcli.errors import require_torch
    from garmentcli.models.export import deployed_module

    torch = require_torch()
    grouped = takes_categories(network.config)

    def run(crops: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, ...]:
        training = network.training
        inputs = (crops, categories) if grouped else (crops,)
        try:
            with torch.inference_mode():
                outputs = deployed_module(network)(*(torch.from_numpy(x).to(device) for x in inputs))
        finally:
            network.train(training)
        return tuple(output.float().cpu().numpy() for output in outputs)

    return run


def load_landmarker(
    model: str | Path | ModelFiles, backend: str = "onnx", device: str = "cpu", batch_size: int = 16
) -> TopDownLandmarker:
    """The top-down landmark model ``model`` (a name, an ``.onnx`` file with its card, or a ``.pt`` checkpoint)
    ready to run: onnxruntime for ONNX files, torch for checkpoints."""
    from garmentcli.models.registry import resolve_model
    from garmentcli.runtime.backends import OnnxBackend, check_device

    files = model if isinstance(model, ModelFiles) else resolve_model(model)
    config = files.card.config
    if not isinstance(config, CropConfig):
        raise InputError(
            f"--landmarks {files.name}: a garment detector, not a top-down landmark model "
            "(train one with --arch rtfpose or --arch cspn)"
        )
    if files.onnx is not None and backend == "onnx":
        session = OnnxBackend(files, device)
        extra = takes_categories(config)

        def run(crops: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, ...]:
            outputs = session.run(crops, {CATEGORY_INPUT: categories} if extra else None)
            return tuple(outputs[name] for name in output_names(config))

        return TopDownLandmarker(run, config, batch_size, files)
    if files.checkpoint is None:
        raise InputError(f"{files.onnx}: the torch backend runs a top-down model from its .pt checkpoint; use onnx")
    from garmentcli.models.checkpoint import network_from_checkpoint

    check_device(device)
    network = network_from_checkpoint(files.checkpoint)[0].to(device)
    return TopDownLandmarker(torch_runner(network, device), config, batch_size, files)


class GivenBoxes:
    """``detect --boxes FILE --landmarks MODEL``: the top-down model's landmarks for boxes and categories read from
    a file instead of found by the detector. Images are matched with the file's records by file name (the path
    relative to the inputs' root, else the bare name when it is unique); an image the file has no record for is
    a failure, and so is an unreadable one. The same interface as the predictor's ``predict_sources``."""

    def __init__(self, landmarker: TopDownLandmarker, records: Sequence[ImageRecord], source: str) -> None:
        self.landmarker = landmarker
        self.source = source
        self.by_name = {r.file_name: r for r in records}
        bare: dict[str, list[ImageRecord]] = {}
        for record in records:
            bare.setdefault(Path(record.file_name).name, []).append(record)
        self.by_bare_name = {name: found[0] for name, found in bare.items() if len(found) == 1}
        self.timer = StageTimer()

    def record_for(self, source: ImageSource) -> ImageRecord:
        record = self.by_name.get(source.name) or self.by_bare_name.get(Path(source.name).name)
        if record is None:
            raise InputError(f"{source.path}: {self.source} has no boxes for this image")
        return record

    def predict_sources(
        self,
        sources: Sequence[ImageSource],
        ids: Sequence[int],
        on_error: Callable[[ImageSource, Exception], None],
    ) -> Iterator[ImageRecord]:
        for source, image_id in zip(sources, ids, strict=True):
            try:
                given = self.record_for(source)
                with self.timer.measure("decode"):
                    image = read_image(source.path)
            except (InputError, OSError) as exc:
                on_error(source, exc)
                continue
            garments = [  # the boxes, categories, scores and ids; nothing else of the file's garments
                replace(g, segmentation=None, attributes={}, extra={})
                for g in given.garments
                if not is_fld(g.category_id)
            ]
            with self.timer.measure("landmarks"):
                (found,) = self.landmarker.landmarks([image], [garments])
            self.timer.images += 1
            height, width = image.shape[:2]
            yield ImageRecord(image_id, source.name, width, height, found)

    def settings(self, boxes_sha256: str) -> dict[str, Any]:
        """What an output of this run records: the boxes file and its hash, the landmark model and its hash."""
        from garmentcli.models.registry import model_sha256

        model = self.landmarker.model
        return {
            "boxes": self.source,
            "boxes_sha256": boxes_sha256,
            "landmarks": "in-memory" if model is None else model.name,
            "landmarks_sha256": None if model is None else model_sha256(model),
        }
