"""Throughput measurement of the whole detect pipeline, per backend and batch size (``garmentkp bench``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import orjson

from garmentcli.io.jsonl import image_to_json
from garmentcli.io.sources import ImageSource
from garmentcli.models.codec import DecodeOptions
from garmentcli.models.registry import ModelFiles
from garmentcli.runtime.predictor import Predictor
from garmentcli.runtime.timing import STAGES, StageTimer


@dataclass(frozen=True)
class BenchResult:
    model: str
    """The model's name: with ``--precision auto`` the onnxruntime rows run its int8 variant, the torch rows not."""
    backend: str
    device: str
    batch_size: int
    images: int
    seconds: float
    cpu_seconds: float
    """Process CPU time (all threads): on a shared machine, cores / (cpu_seconds / images) estimates the
    images/s the same cores would give if they were not shared."""
    stage_ms: dict[str, float]
    """Milliseconds per image in each stage (decode/preprocess are thread time, overlapping inference)."""

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "backend": self.backend,
            "device": self.device,
            "batch_size": self.batch_size,
            "images": self.images,
            "seconds": round(self.seconds, 4),
            "cpu_ms_per_image": round(1000 * self.cpu_seconds / self.images, 3),
            "images_per_s": round(self.images_per_s, 2),
            "stage_ms": {k: round(v, 3) for k, v in self.stage_ms.items()},
        }


def write_test_images(folder: Path, count: int, size: int, seed: int = 0) -> list[ImageSource]:
    """``count`` JPEG photos-like images (smooth background, filled shapes, mild noise) of ``size`` x ``size``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    sources = []
    for index in range(count):
        base = rng.uniform(60, 200, 3)
        image = np.empty((size, size, 3), np.uint8)
        image[:] = base * (0.7 + 0.3 * ramp[:, None, None])
        for _ in range(3):
            points = rng.integers(0, size, (6, 2)).astype(np.int32)
            cv2.fillPoly(image, [cv2.convexHull(points)], rng.integers(0, 255, 3).tolist())
        image = cv2.add(image, rng.integers(0, 12, image.shape, dtype=np.uint8))
        path = folder / f"{index:06d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        sources.append(ImageSource(path, path.name))
    return sources


def benchmark(
    model: ModelFiles,
    sources: Sequence[ImageSource],
    backend: str,
    batch_size: int,
    device: str = "cpu",
    options: DecodeOptions | None = None,
    warmup: int = 1,
) -> BenchResult:
    """Run the pipeline over ``sources`` (after ``warmup`` batches) and time it end to end.

    The write stage serialises every record to a JSON line in memory, as ``detect`` would to disk.
    """
    predictor = Predictor(model, backend, device, options, batch_size)
    for _ in predictor.predict_sources(sources[: warmup * batch_size]):
        pass
    predictor.timer = StageTimer()
    written = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for record in predictor.predict_sources(sources):
        with predictor.timer.measure("write"):
            written += len(orjson.dumps(image_to_json(record)))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    stage_ms = predictor.timer.per_image_ms()
    stages = {s: stage_ms[s] for s in STAGES}
    return BenchResult(model.name, backend, device, batch_size, predictor.timer.images, seconds, cpu_seconds, stages)
