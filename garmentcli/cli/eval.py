"""``garmentkp eval``: official DeepFashion2 keypoint AP, COCO box AP and landmark errors of predictions."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from garmentcli.choices import IMAGE_PAIRINGS, METRICS, PAIRINGS
from garmentcli.cli import common
from garmentcli.errors import InputError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.jsonio import dump_json

if TYPE_CHECKING:
    from rich.console import Console

    from garmentcli.metrics.instances import Instances
    from garmentcli.metrics.pairing import ImagePairing

Pairing = common.choices("Pairing", PAIRINGS)
ImagePairingRule = common.choices("ImagePairingRule", IMAGE_PAIRINGS)
AUTO_PAIRING, AUTO_IMAGES = Pairing("auto"), ImagePairingRule("auto")

SHOWN_ERRORS = 3
"""Malformed entries reported one by one before the rest are only counted."""


def parse_metrics(spec: str | None, gt: Instances, pred: Instances) -> list[str]:
    """The metrics asked for; by default every metric the inputs allow (box only without landmarks,
    no keypoint AP for FLD, which has no OKS sigmas)."""
    from garmentcli.schema.layout import NUM_LANDMARKS

    if spec is None:
        if gt.keypoints is None or (pred.keypoints is None and len(pred) > 0):
            return ["box"]
        return [m for m in METRICS if m != "ap" or gt.keypoints.shape[1] == NUM_LANDMARKS]
    chosen = [m.strip().lower() for m in spec.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in METRICS]
    if unknown or not chosen:
        raise InputError(f"--metrics {spec!r}: choose from {','.join(METRICS)}")
    return chosen


def load_counted(path: Path, what: str) -> tuple[Instances, int]:
    """Read ground truth or predictions, skipping malformed entries: the first few are shown, all are counted."""
    from garmentcli.metrics.instances import load_instances

    skipped: list[str] = []

    def on_error(message: str) -> None:
        skipped.append(message)
        if len(skipped) <= SHOWN_ERRORS:
            common.warn(f"skipped: {message}")

    instances = load_instances(path, on_error)
    if skipped:
        common.warn(f"{path}: {len(skipped)} malformed {what} entries skipped")
    return instances, len(skipped)


def warn_about_inputs(counts: dict[str, int], gt_path: Path, pred_path: Path, images: ImagePairing) -> None:
    if images.rule == "name" and images.unmatched:
        common.warn(
            f"{pred_path}: {images.unmatched} of {images.images} prediction images have no ground-truth image of "
            f"their file name in {gt_path}; they are left out"
        )
    elif counts["predictions_unknown_image"]:
        common.warn(
            f"{pred_path}: {counts['predictions_unknown_image']} of {counts['predictions']} predictions are on "
            f"image ids absent from {gt_path}; they are left out"
        )
    if counts["predictions_unknown_category"]:
        common.warn(
            f"{pred_path}: {counts['predictions_unknown_category']} predictions have categories {gt_path} does not "
            "declare; they are left out"
        )
    if counts["predictions_without_score"]:
        common.warn(f"{pred_path}: {counts['predictions_without_score']} predictions carry no score; they rank last")
    if counts["predictions"] == 0:
        common.warn(f"{pred_path}: no predictions; every score is 0")


def print_tables(result: dict[str, Any], console: Console) -> None:
    from rich.table import Table

    from garmentcli.metrics.report import format_value, section_tables

    for title, metrics, rows in section_tables(result):
        table = Table(title=title, title_justify="left")
        table.add_column("", style="bold")
        for metric in metrics:
            table.add_column(metric, justify="right")
        for label, values in rows:
            table.add_row(label, *(format_value(m, values[m]) if m in values else "" for m in metrics))
        console.print(table)
    landmarks = result.get("landmarks")
    if landmarks and landmarks.get("pairing"):
        console.print(
            f"landmarks: {landmarks['paired']} of {landmarks['garments']} ground-truth garments paired "
            f"(by {'annotation id' if landmarks['pairing'] == 'id' else 'OKS, as keypoint AP'})"
        )


def write_csv(result: dict[str, Any], path: Path) -> None:
    from garmentcli.metrics.report import CSV_HEADER, csv_rows

    with atomic_write(path, "w") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(csv_rows(result))


def eval_command(
    gt: Annotated[
        Path, typer.Option("--gt", help="Ground truth: DeepFashion2 COCO JSON or annos folder, COCO, FLD, JSONL …")
    ],
    pred: Annotated[
        Path, typer.Option("--pred", help="Predictions: COCO result list, COCO file or JSONL from `detect`.")
    ],
    metrics: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated, from {','.join(METRICS)} (default: all the inputs allow)."),
    ] = None,
    per_category: Annotated[bool, typer.Option("--per-category", help="Add a row per garment category.")] = False,
    by_attribute: Annotated[
        bool, typer.Option("--by-attribute", help="Add rows per DeepFashion2 scale/occlusion/zoom_in/viewpoint value.")
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every number as JSON ('-': stdout).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write every number as CSV rows.")] = None,
    pairing: Annotated[
        Pairing,
        typer.Option(help="Landmark metrics: pair by OKS as keypoint AP ('oks'), by annotation id ('id'), or 'auto'."),
    ] = AUTO_PAIRING,
    pck_threshold: Annotated[
        float, typer.Option("--pck-threshold", help="PCK threshold, a fraction of the box's longer side.")
    ] = 0.2,
    pair_by: Annotated[
        ImagePairingRule,
        typer.Option(
            "--pair-by",
            help="Which ground-truth image a prediction image is: by file name ('name'), by image id ('id'), or "
            "'auto': by file name where both files carry names, stopping when names and ids disagree.",
        ),
    ] = AUTO_IMAGES,
    report: Annotated[
        Path | None,
        typer.Option(help="Write a self-contained HTML report: plots per category, confusion, landmark errors."),
    ] = None,
    images_dir: Annotated[
        Path | None, typer.Option("--images", help="With --report: the images, to show the worst and best ones.")
    ] = None,
) -> None:
    """Score predictions against ground truth: keypoint AP/AR exactly as the official DeepFashion2 evaluator,
    COCO box AP/AR, and PCK, AUC, EPE, NE (FLD and CSPN).

    Example: garmentkp eval --gt val/coco.json --pred pred.json --per-category --json scores.json
    """
    from garmentcli.metrics.evaluate import evaluate
    from garmentcli.metrics.pairing import pair_images

    if images_dir is not None and (report is None or not images_dir.is_dir()):
        raise InputError(f"--images {images_dir}: " + ("not a folder" if report else "only used with --report"))
    with common.writing("eval", json_out, csv_out, report):
        gt_set, gt_skipped = load_counted(gt, "ground-truth")
        pred_set, pred_skipped = load_counted(pred, "prediction")
        try:
            pred_set, images = pair_images(gt_set, pred_set, pair_by.value)
        except InputError as exc:
            raise InputError(f"{pred} against {gt}: {exc}") from None
        chosen = parse_metrics(metrics, gt_set, pred_set)
        common.info(
            f"{len(gt_set)} ground-truth garments on {len(gt_set.image_ids)} images, {len(pred_set)} predictions; "
            f"computing {','.join(chosen)}"
        )
        coco_results: dict[str, Any] = {}
        result = evaluate(
            gt_set,
            pred_set,
            chosen,
            per_category=per_category or report is not None,
            by_attribute=by_attribute or (report is not None and bool(gt_set.attributes)),
            coco_results=coco_results,
            pairing=pairing.value,
            pck_threshold=pck_threshold,
        )
        result["counts"].update(gt_skipped=gt_skipped, predictions_skipped=pred_skipped)
        result["image_pairing"] = {"by": images.rule, "images": images.images, "unmatched": images.unmatched}
        warn_about_inputs(result["counts"], gt, pred, images)
        if by_attribute and not gt_set.attributes:
            common.warn(f"{gt}: the ground truth has no scale/occlusion/zoom_in/viewpoint attributes to break down by")
        if report is not None:
            from garmentcli.viz.report import without_breakdowns, write_eval_report

            write_eval_report(
                report,
                gt_set,
                pred_set,
                result,
                coco_results,
                gt_path=gt,
                pred_path=pred,
                images=images_dir,
                pairing=pairing.value,
                pck_threshold=pck_threshold,
            )
            result = without_breakdowns(result, per_category, by_attribute)
        if json_out is not None:
            with atomic_write(json_out, "wb") as handle:
                handle.write(dump_json(result))
        if csv_out is not None:
            write_csv(result, csv_out)
    if not common.STATE.quiet:
        from rich.console import Console

        print_tables(result, common.console() if str(json_out) == "-" else Console(highlight=False))
    raise typer.Exit(common.EXIT_PARTIAL if gt_skipped or pred_skipped else common.EXIT_OK)
