"""``garmentkp detect``: garments, boxes and landmarks for a folder of photos, streamed to disk."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from garmentcli.choices import DEFAULT_MODEL
from garmentcli.cli import common
from garmentcli.cli.engine import LOCAL, EngineOption, RayActorsOption, RayAddressOption, on_ray

if TYPE_CHECKING:
    from garmentcli.io.sources import ImageSource
    from garmentcli.schema.records import ImageRecord


def _write_overlay(folder: Path, source: ImageSource, record: ImageRecord) -> None:
    """``folder/<name>.jpg``: the image with its garments drawn."""
    from garmentcli.io.images import read_image, write_image
    from garmentcli.viz.draw import draw_garments

    overlay = draw_garments(read_image(source.path), record.garments)
    write_image(overlay, folder / Path(source.name).with_suffix(".jpg"), jpeg_quality=90)


def detect(
    sources: Annotated[
        list[str], typer.Argument(help="Image files, folders (recursive), globs, or - for paths on stdin.")
    ],
    output: Annotated[
        str,
        typer.Option("--output", "-o", help="Output: .json (DeepFashion2 COCO), .csv, .jsonl, or - (JSONL on stdout)."),
    ],
    model: Annotated[
        str, typer.Option(help="Bundled model name, cached model name, or path to .onnx/.pt.")
    ] = DEFAULT_MODEL,
    backend: Annotated[common.BackendName, typer.Option(help="onnx (onnxruntime) or torch.")] = common.ONNX,
    device: Annotated[common.DeviceName, typer.Option(help="Where the network runs.")] = common.CPU,
    precision: Annotated[common.PrecisionName, typer.Option(help=common.PRECISION_HELP)] = common.AUTO,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per inference batch.")] = 8,
    score_thr: Annotated[float, typer.Option(min=0.0, max=1.0, help="Drop garments scoring below this.")] = 0.2,
    max_dets: Annotated[int, typer.Option(min=1, help="At most this many garments per image.")] = 20,
    flip: Annotated[bool, typer.Option("--flip", help="Flip test-time augmentation (twice the inference).")] = False,
    refine: Annotated[
        bool,
        typer.Option(
            "--refine", help="Run the network again on a zoomed crop of each garment: finer landmarks, slower."
        ),
    ] = False,
    plain: Annotated[
        bool, typer.Option("--plain", help="Switch the four DeepMark++ post-processing steps off (CenterNet decoding).")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="Threads decoding images ahead of the network.")] = 2,
    viz: Annotated[Path | None, typer.Option(help="Also write overlays (image + garments) into this folder.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip images already in OUTPUT (after an interrupted run).")
    ] = False,
    failures_file: Annotated[Path | None, typer.Option("--failures", help=common.FAILURES_HELP)] = None,
    landmarks: Annotated[
        str | None,
        typer.Option(
            help="A top-down landmark model (garmentkp train --arch rtfpose or cspn, then export): its landmarks "
            "replace the detector's for every garment found (or given by --boxes)."
        ),
    ] = None,
    boxes: Annotated[
        Path | None,
        typer.Option(
            help="Boxes and categories from this file (COCO, DeepFashion2, results, JSONL ...) instead of the "
            "detector; images matched by file name. Needs --landmarks."
        ),
    ] = None,
    masks: Annotated[
        bool,
        typer.Option(
            "--masks", help="Also write each garment's mask as COCO RLE (segmentation); Mask R-CNN models only."
        ),
    ] = False,
    engine: EngineOption = LOCAL,
    ray_address: RayAddressOption = None,
    ray_actors: RayActorsOption = None,
) -> None:
    """Detect garments and their DeepFashion2 landmarks in images.

    Results stream to disk as they come; an interrupted run keeps what it finished and --resume
    continues it. Unreadable images are reported and skipped (exit code 2). --engine ray runs it on a
    Ray cluster with the same output (docs/scale.md).

    Example: garmentkp detect photos/ -o pred.json --viz overlays/
    """
    from garmentcli.errors import InputError
    from garmentcli.io.df2 import image_ids_from_names
    from garmentcli.io.digest import file_sha256
    from garmentcli.io.formats import read_annotations
    from garmentcli.io.sources import expand_sources
    from garmentcli.models.codec import DecodeOptions
    from garmentcli.runtime.output import DetectionSink, detection_settings, run_file_path, run_record
    from garmentcli.runtime.predictor import Predictor, failure_message
    from garmentcli.runtime.topdown import GivenBoxes, load_landmarker

    ray = on_ray(engine)
    model = common.with_precision(model, precision, backend, device)
    if boxes is not None and landmarks is None:
        raise InputError(f"--boxes {boxes}: needs --landmarks MODEL, the top-down model that places the landmarks")
    if ray and landmarks is not None:
        raise InputError("--landmarks: not on Ray yet; run it locally (--engine local)")
    if masks and (ray or boxes is not None):
        raise InputError(f"--masks: {'not on Ray yet' if ray else 'the masks come from the detector, not --boxes'}")
    if ray:
        from garmentcli.scale.listing import list_images
        from garmentcli.scale.run import ClusterDetection

        ClusterDetection.check(output, viz)
        found = list_images(sources)
    else:
        found = expand_sources(sources)
    ids = image_ids_from_names([s.name for s in found])
    decode = DecodeOptions.plain if plain else DecodeOptions
    predictor: Predictor | GivenBoxes
    if boxes is not None:
        assert landmarks is not None
        given = read_annotations(boxes)
        predictor = GivenBoxes(load_landmarker(landmarks, backend.value, device.value, batch_size), given, str(boxes))
        settings = predictor.settings(file_sha256(boxes))
    else:
        predictor = Predictor(
            model,
            backend.value,
            "cpu" if ray else device.value,  # on Ray the driver's predictor only names the settings
            decode(score_thr=score_thr, max_dets=max_dets),
            batch_size,
            flip,
            workers,
            refine,
            landmarks,
            masks,
        )
        settings = detection_settings(predictor)
    failures = common.FailureLog()
    images = garments = 0
    start = time.perf_counter()
    run = run_record(settings, found[0].root)
    with (
        common.writing("detect", output, viz, failures_file),
        failures.recording(failures_file),
        DetectionSink(output, resume, run) as sink,
    ):
        cluster = None
        if ray:
            assert isinstance(predictor, Predictor)
            cluster = ClusterDetection(output, resume, run, predictor, model, device.value, ray_address, ray_actors)
        done = sink.done | cluster.done if cluster is not None else sink.done
        todo = {image_id: s for s, image_id in zip(found, ids, strict=True) if s.name not in done}
        if done:
            common.info(f"resuming: {len(found) - len(todo)} of {len(found)} images already done")
            if sink.recorded is None:
                common.warn(
                    f"{output} records no settings (an older garmentkp, or a CSV whose {run_file_path(output).name} "
                    "is gone): they cannot be checked"
                )
        with common.make_progress() as progress:
            task = progress.add_task("detect", total=len(todo))

            def report(source: ImageSource, exc: Exception) -> None:
                failures.add(failure_message(source, exc), source.path)

            # each image with its garment count: a record, or on Ray its line as the workers wrote it
            streamed = (
                cluster.lines(list(todo.values()), list(todo), report, sink.done)
                if cluster is not None
                else ((r, len(r.garments)) for r in predictor.predict_sources(list(todo.values()), list(todo), report))
            )
            try:
                for record, count in streamed:
                    with predictor.timer.measure("write"):
                        sink.append(record)
                        if viz is not None:  # local records only (--engine ray refuses --viz)
                            _write_overlay(viz, todo[record.id], record)
                    images += 1
                    garments += count
                    progress.update(task, completed=images + len(failures))
            except KeyboardInterrupt:
                done = len(found) - len(todo) + images
                raise common.interrupted(done, len(found), "images", output, resumable=output != "-") from None
        sink.finish()
        if cluster is not None:
            cluster.finish()
    elapsed = time.perf_counter() - start
    common.info(
        f"{images} images, {garments} garments, {len(failures)} failures, "
        f"{images / max(elapsed, 1e-9):.1f} images/s ({backend.value}, {device.value}{', Ray' if ray else ''})"
    )
    if not ray:
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in predictor.timer.per_image_ms().items())
        common.info(f"ms per image: {stages} (decode and preprocess run in threads, overlapping inference)")
    raise typer.Exit(failures.exit_code)
