"""``garmentkp quantize``: a detector's int8 variant (onnxruntime static QDQ), calibrated on images."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

import typer

from garmentcli.choices import CALIBRATIONS, DEFAULT_MODEL
from garmentcli.cli import common

Calibration = common.choices("Calibration", CALIBRATIONS)
MINMAX = Calibration(CALIBRATIONS[0])

CALIBRATION_IMAGES = 200
"""Calibration images used at most (drawn evenly at random from those given, with a fixed seed)."""


def quantize(
    calibrate: Annotated[
        list[str],
        typer.Argument(help="Calibration images: files, folders (recursive), globs; use images like the real inputs."),
    ],
    model: Annotated[str, typer.Option(help="The float model: bundled or cached name, or .onnx path.")] = DEFAULT_MODEL,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The int8 .onnx to write (default: NAME-int8.onnx beside the model; for a bundled model, in the "
            "model cache, where --precision int8 finds it).",
        ),
    ] = None,
    images: Annotated[int, typer.Option(min=1, help="Calibration images used at most.")] = CALIBRATION_IMAGES,
    calibration: Annotated[
        Calibration, typer.Option(help="How the activation ranges are set from the calibration images.")
    ] = MINMAX,
    seed: Annotated[int, typer.Option(help="Seed of the draw when more images are given than used.")] = 0,
    card: Annotated[
        Path | None, typer.Option(help="JSON with 'training' and/or 'metrics' entries to put in the card.")
    ] = None,
) -> None:
    """Write the int8 variant of a detector, which --precision int8 then finds (faster on CPUs).

    Example: garmentkp quantize val_images/ real_photos/ --model models/mine.onnx  (writes models/mine-int8.onnx)
    """
    from garmentcli.errors import InputError
    from garmentcli.io.sources import expand_sources
    from garmentcli.models.quantize import quantize_model
    from garmentcli.models.registry import cache_dir, card_path, int8_spec, resolve_model
    from garmentcli.runtime.predictor import failure_message

    files = resolve_model(model)
    if files.onnx is None:
        raise InputError(f"--model {model}: quantise an .onnx model (garmentkp export writes one)")
    if output is not None:
        target = output
    elif files.origin == "bundled":  # the package folder may not be writable; the cache is found by name too
        target = cache_dir() / Path(int8_spec(str(files.onnx))).name
    else:
        target = Path(int8_spec(str(files.onnx)))
    if target.suffix != ".onnx":
        raise InputError(f"{target}: the output must end in .onnx")
    if target.resolve() == files.onnx.resolve():
        raise InputError(f"{target}: would overwrite the float model")
    extra = common.card_fields(card)
    found = expand_sources(calibrate)
    chosen = sorted(random.Random(seed).sample(found, images), key=lambda s: s.name) if len(found) > images else found
    failures = common.FailureLog()
    with common.writing("quantize", target, card_path(target), model_cards=True):
        card = quantize_model(
            files,
            chosen,
            target,
            calibration.value,
            on_error=lambda source, exc: failures.add(failure_message(source, exc), source.path),
            extra=extra,
        )
    used = card.export["quantization"]["calibration_images"]
    common.info(f"wrote {target} and {card_path(target).name}: int8, calibrated on {used} images ({calibration.value})")
    raise typer.Exit(failures.exit_code)
