"""int8 models: onnxruntime static quantisation (QDQ) of a detector, calibrated on images, with its own card.

The int8 variant of a model is a separate ONNX file named ``NAME-int8.onnx`` beside the float one
(bundled, cached or given as a path), found by ``--precision int8``
(:func:`~garmentcli.models.registry.int8_spec`). Weights are quantised per
output channel (signed 8-bit) and activations per tensor (unsigned 8-bit) from the ranges that
the calibration images give; onnxruntime runs the QDQ graph with integer kernels on CPUs. The
card is the float model's with ``precision`` set to ``int8`` and, under ``export``, what it was
made from (the float model's SHA-256) and how it was calibrated. Top-down landmark models are
not quantised (not tried yet).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from garmentcli.choices import CALIBRATIONS, FLOAT32, INT8
from garmentcli.errors import InputError, MissingDependencyError
from garmentcli.io.images import read_image
from garmentcli.io.sources import ImageSource
from garmentcli.models.card import ModelCard
from garmentcli.models.registry import ModelFiles, model_sha256, write_model
from garmentcli.runtime.letterbox import letterbox, to_tensor


def calibration_batches(sources: Sequence[ImageSource], size: int, on_error: Any) -> Iterator[np.ndarray]:
    """Each calibration image letterboxed as the predictor does, one ``(1, 3, size, size)`` batch at a time."""
    for source in sources:
        try:
            image = read_image(source.path)
        except Exception as exc:  # a bad image is reported and left out, as everywhere
            on_error(source, exc)
            continue
        yield to_tensor([letterbox(image, size)[0]])


def quantize_model(
    model: ModelFiles,
    sources: Sequence[ImageSource],
    output: Path,
    method: str = CALIBRATIONS[0],
    on_error: Any = None,
    extra: dict[str, Any] | None = None,
) -> ModelCard:
    """Write ``output`` (the int8 QDQ graph, card inside) and its ``.json`` card; returns the card.

    The card keeps the float model's ``training`` and moves its ``metrics`` under ``metrics["float32"]``
    (they are the float graph's); ``extra``'s ``training`` / ``metrics`` entries (the int8 model's own
    figures) are merged in.
    """
    try:
        import onnx
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.calibrate import CalibrationDataReader
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise MissingDependencyError("garmentkp quantize needs the onnx package: pip install onnx") from exc

    card = model.card
    if card.is_topdown:
        raise InputError(f"{model.name}: top-down landmark models are not quantised (detectors only)")
    if card.precision != FLOAT32 or model.onnx is None:
        raise InputError(f"{model.name}: quantise a float32 .onnx model (garmentkp export writes one)")
    if method not in CALIBRATIONS:
        raise InputError(f"--calibration {method!r}: choose from {', '.join(CALIBRATIONS)}")
    input_name = onnx.load(str(model.onnx), load_external_data=False).graph.input[0].name
    used = [0]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.batches = calibration_batches(sources, card.config.input_size, on_error or (lambda *_: None))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            if batch is None:
                return None
            used[0] += 1
            return {input_name: batch}

    methods = (CalibrationMethod.MinMax, CalibrationMethod.Percentile, CalibrationMethod.Entropy)
    calibrate = dict(zip(CALIBRATIONS, methods, strict=True))[method]
    with tempfile.TemporaryDirectory(prefix="garmentkp-quantize-") as folder:
        prepared, quantized = Path(folder) / "prepared.onnx", Path(folder) / "int8.onnx"
        quant_pre_process(str(model.onnx), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=calibrate,
        )
        if not used[0]:
            raise InputError("--calibrate: no readable calibration image")
        graph = onnx.load(str(quantized))
    int8_card = dataclasses.replace(
        card,
        name=output.stem,
        precision=INT8,
        training={**card.training, **(extra or {}).get("training", {})},
        metrics={"float32": card.metrics, **(extra or {}).get("metrics", {})},
        export={
            **card.export,
            "quantized_from": {"name": model.name, "sha256": model_sha256(model)},
            "quantization": {
                "format": "QDQ",
                "weights": "int8 per channel",
                "activations": "uint8 per tensor",
                "calibration": method,
                "calibration_images": used[0],
            },
        },
    )
    write_model(graph, int8_card, output)
    return int8_card
