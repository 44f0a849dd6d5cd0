"""Accuracy of ``garmentkp measure`` on synthetic flat-lays whose true measurements are known.

Images come from the synth generator (``garmentcli.synth``), which renders garments and ArUco
markers through a known camera and records every garment's landmarks on the table plane (cm).
For each setup the photo is calibrated exactly as ``garmentkp measure`` does (markers detected
in the pixels), the landmarks are mapped to the table and measured, and the result is compared
with the same definitions applied to the true table-plane landmarks. Setups:

* ``marker, square-on``    one 8 cm marker, camera straight down, true landmarks (goal: median <= 0.3 cm)
* ``board, tilt <= 30``    four 8 cm markers at the table corners, tilt up to 30 deg (goal: <= 0.2 cm)
* ``marker, tilt <= 30``   one marker under the same tilts (why the board exists)
* ``model, square-on``     the default model's landmarks, marker calibration (goal: <= 1.5 cm), when a
                           default model is installed: once as ``garmentkp measure`` runs it on photos
                           (zoom refinement and flip augmentation on), once from a single plain pass

Prints a table per setup: each measurement's count, median and 95th-percentile absolute error
(cm), then the pooled figures, for all images and for the images tilted 15 deg or more.

    python benchmarks/bench_measure.py              # 40 images per setup, 1024 px
    python benchmarks/bench_measure.py --images 10  # a quick look
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from garmentcli.measure.batch import Detector
from garmentcli.measure.calibration import CalibrationError, Calibrator, MarkerBoard, MarkerSpec, SingleMarker
from garmentcli.measure.definitions import measure_garment
from garmentcli.measure.runner import garment_states
from garmentcli.metrics.similarity import box_iou_pairs
from garmentcli.schema.records import Garment
from garmentcli.synth.scene import SynthConfig, board_layout, generate

MARKER_CM = 8.0
STEEP_DEG = 15.0


@dataclass
class Errors:
    """Absolute errors (cm) by measurement name, split by the camera tilt of their image."""

    by_name: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    failed_images: int = 0
    warned_images: int = 0
    images: int = 0
    tilts: list[tuple[float, float]] = field(default_factory=list)
    """(true, estimated) camera tilt per calibrated image, degrees."""

    def add(self, name: str, error: float, tilt: float) -> None:
        self.by_name[name].append((abs(error), tilt))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(box_iou_pairs(a[None], b[None], np.zeros(1, bool))[0])


def _match(truth: list[Garment], predicted: list[Garment]) -> list[tuple[Garment, Garment]]:
    """Greedy one-to-one matching by box IoU >= 0.5 within the category, best scores first."""
    pairs, used = [], set()
    for guess in sorted(predicted, key=lambda g: -(g.score or 0.0)):
        candidates = [
            (_iou(guess.bbox, t.bbox), i)
            for i, t in enumerate(truth)
            if i not in used and t.category_id == guess.category_id
        ]
        if candidates and max(candidates)[0] >= 0.5:
            best = max(candidates)[1]
            used.add(best)
            pairs.append((truth[best], guess))
    return pairs


def run_setup(config: SynthConfig, calibrator: Calibrator, count: int, predictor: Detector | None = None) -> Errors:
    """Generate ``count`` images, measure them, and collect the errors against the truth."""
    errors = Errors()
    for index in range(count):
        sample = generate(config, index)
        tilt = float(sample.record.extra["synth"]["camera_tilt_deg"])
        errors.images += 1
        try:
            calibration = calibrator.calibrate(sample.image)
        except CalibrationError:
            errors.failed_images += 1
            continue
        errors.warned_images += bool(calibration.warnings)
        errors.tilts.append((tilt, calibration.tilt_deg or 0.0))
        truth_garments = sample.record.garments
        if predictor is None:
            pairs = [(g, g) for g in truth_garments]
        else:
            pairs = _match(truth_garments, predictor.predict([sample.image])[0])
        for truth, measured_from in pairs:
            # The true value uses the truth's landmark states, so both sides of a mirrored measurement
            # are chosen alike (landmarks outside the photo are unlabelled: v = 0, x = y = 0).
            true_cm = np.asarray(truth.extra["landmarks_cm"])
            expected = measure_garment(truth.category_id, true_cm, garment_states(truth))
            points = calibration.to_plane(measured_from.landmarks[:, :2])
            for name, measured in measure_garment(truth.category_id, points, garment_states(measured_from)).items():
                if measured.value is not None and expected[name].value is not None:
                    errors.add(name, measured.value - expected[name].value, tilt)
    return errors


def _figures(values: list[float]) -> str:
    if not values:
        return f"{0:>5} {'-':>8} {'-':>8}"
    return f"{len(values):>5} {np.median(values):>8.3f} {np.percentile(values, 95):>8.3f}"


def report(title: str, errors: Errors, seconds: float) -> None:
    print(f"\n## {title}")
    print(
        f"{errors.images} images ({errors.failed_images} not calibrated, {errors.warned_images} with a warning), "
        f"{seconds:.0f} s"
    )
    print(f"{'measurement':<16} {'n':>5} {'median':>8} {'p95':>8}   {'n':>5} {'median':>8} {'p95':>8}  (tilt >= 15)")
    pooled, pooled_steep = [], []
    for name in sorted(errors.by_name):
        pairs = errors.by_name[name]
        everything = [e for e, _ in pairs]
        steep = [e for e, t in pairs if t >= STEEP_DEG]
        pooled += everything
        pooled_steep += steep
        print(f"{name:<16} {_figures(everything)}   {_figures(steep)}")
    print(f"{'ALL':<16} {_figures(pooled)}   {_figures(pooled_steep)}")
    true, estimated = np.array(errors.tilts).T if errors.tilts else (np.zeros(0), np.zeros(0))
    for low, high in [(0, 5), (5, 10), (10, 20), (20, 31)]:
        chosen = (true >= low) & (true < high)
        if chosen.any():
            seen = estimated[chosen]
            print(
                f"  true tilt {low:>2}-{high:<2} deg: {int(chosen.sum()):>3} images, estimated median "
                f"{np.median(seen):5.1f} (range {seen.min():.1f}-{seen.max():.1f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40, help="images per setup")
    parser.add_argument("--size", type=int, default=1024, help="image side, px")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default="default", help="model for the model setup ('' to skip)")
    args = parser.parse_args()

    synth_marker = MarkerSpec("4x4_50", 0, MARKER_CM)
    single = SingleMarker(MarkerSpec("4x4_50", 0, MARKER_CM))
    board = board_layout(synth_marker)
    common = {"seed": args.seed, "size": args.size, "photo_effects": True}
    square_on = SynthConfig(tilt_max_deg=0.0, marker=synth_marker, **common)
    tilted_board = SynthConfig(tilt_max_deg=30.0, board=board, **common)
    tilted_marker = SynthConfig(tilt_max_deg=30.0, marker=synth_marker, **common)
    setups = [
        ("marker, square-on, true landmarks", square_on, single),
        ("board, tilt <= 30 deg, true landmarks", tilted_board, MarkerBoard(board)),
        ("marker, tilt <= 30 deg, true landmarks", tilted_marker, single),
    ]
    print(f"bench_measure: {args.images} images per setup, {args.size} px, {MARKER_CM:g} cm markers, seed {args.seed}")
    print("(errors in cm, absolute, against the true table-plane landmarks; CPU shared with other work)")
    for title, config, calibrator in setups:
        started = time.perf_counter()
        report(title, run_setup(config, calibrator, args.images), time.perf_counter() - started)
    if args.model:
        try:
            from garmentcli.cli.measure import make_detector

            detectors = {
                "as measure runs it (--refine --flip)": make_detector(args.model, refine=True, flip=True),
                "one plain pass (--no-refine --no-flip)": make_detector(args.model, refine=False, flip=False),
            }
        except Exception as exc:  # any reason the model cannot load skips this setup
            print(f"\n## model, square-on: skipped ({type(exc).__name__}: {exc})")
            return
        for how, detector in detectors.items():
            started = time.perf_counter()
            errors = run_setup(square_on, single, args.images, detector)
            report(f"model '{args.model}' {how}, marker, square-on", errors, time.perf_counter() - started)


if __name__ == "__main__":
    main()
