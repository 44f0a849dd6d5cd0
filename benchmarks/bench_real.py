"""How a model does on real photos: hand-checked ``clothing_small`` validation photos, DeepFashion2 and FLD samples.

Everything runs through the project's :class:`~garmentcli.runtime.predictor.Predictor` (as
``garmentkp detect`` does, one threshold for all: ``--score-thr``, default 0.2 as ``detect``), on
the real images in ``--root`` (default ``../shared/data/real`` beside the checkout; they are never
copied into the repository):

* ``clothing_small/validation``: the photos labelled in ``benchmarks/data/clothing_small_val.json``
  (folder, allowed DeepFashion2 categories, hand-checked boxes; see ``benchmarks/data/README.md``).
  Per folder and overall: the share of garment photos whose top-scoring detection has an allowed
  category, the share of garments with a detection (any category) at box IoU >= 0.5 with the hand
  box, and the share of hat and shoe photos with a detection scoring >= 0.5. ``--subset`` picks the
  40-photo ``test_sample`` (the one ``tests/test_real_photos.py`` runs) or the rest, ``selection``.
* ``deepfashion2/``: keypoint AP (the official DeepFashion2 numbers) and box AP, as ``garmentkp eval``.
* ``fld/``: NE (FLD's normalised error: visible landmarks, x / width and y / height). Each FLD
  photo holds one garment; the top-scoring detection stands for it whatever its category, its
  DeepFashion2 landmarks projected onto the 8 FLD slots by ``garmentcli.schema.fld.df2_to_fld``
  and paired with the garment by id (``garmentkp eval`` cannot pair DeepFashion2 predictions with
  FLD ground truth itself: their landmark vectors differ).

The goals of issue 14 are printed beside the figures: top category >= 85 % overall and >= 70 % in
every folder, hats/shoes with a detection >= 0.5 at most 10 %, box IoU >= 0.5 for >= 90 %.

    python benchmarks/bench_real.py                               # the bundled default model, all photos
    python benchmarks/bench_real.py --model runs/new/best.onnx --subset selection --json /tmp/real.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_val

from garmentcli.io.formats import read_annotations
from garmentcli.io.images import read_image, write_image
from garmentcli.io.sources import ImageSource
from garmentcli.metrics.evaluate import evaluate
from garmentcli.models.codec import DecodeOptions
from garmentcli.runtime.predictor import Predictor
from garmentcli.schema.fld import df2_to_fld
from garmentcli.schema.garments import category_name
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord
from garmentcli.viz.draw import contact_sheet, draw_garments

DF2_GT = Path("deepfashion2") / "deepfashion2_coco.json"
FLD_GT = Path("fld") / "fld_coco.json"


def _predict_set(predictor: Predictor, truth: AnnotationSet, folder: Path) -> AnnotationSet:
    """Detections on every image of ``truth`` (files in ``folder``), under the ground truth's image ids."""
    records = list(
        predictor.predict_sources(
            [ImageSource(folder / r.file_name, r.file_name, folder) for r in truth], ids=[r.id for r in truth]
        )
    )
    return AnnotationSet(records)


def deepfashion2_scores(predictor: Predictor, root: Path) -> dict[str, Any] | None:
    """Keypoint AP and box AP on the real DeepFashion2 sample, or None when it is absent."""
    path = root / DF2_GT
    if not path.is_file():
        return None
    truth = read_annotations(path)
    result = evaluate(truth, _predict_set(predictor, truth, path.parent), ["ap", "box"])
    return {
        "images": len(truth),
        "garments": truth.num_garments,
        "keypoint_AP": result["keypoints"]["AP"],
        "box_AP": result["bbox"]["AP"],
    }


def fld_scores(predictor: Predictor, root: Path) -> dict[str, Any] | None:
    """NE (and PCK@0.2) on the FLD sample, the top detection of each photo standing for its garment."""
    path = root / FLD_GT
    if not path.is_file():
        return None
    truth = read_annotations(path)
    found = _predict_set(predictor, truth, path.parent)
    mapped = []
    for record, detected in zip(truth, found, strict=True):
        garments = []
        if detected.garments and record.garments:
            top = max(detected.garments, key=lambda g: g.score or 0.0)
            target = record.garments[0]
            landmarks = df2_to_fld(top.landmarks, top.category_id)
            garments.append(Garment(target.category_id, top.bbox, landmarks, score=top.score, id=target.id))
        mapped.append(ImageRecord(record.id, record.file_name, record.width, record.height, garments))
    result = evaluate(truth, AnnotationSet(mapped), ["ne", "pck"], pairing="id")["landmarks"]
    return {
        "images": len(truth),
        "garments": result["garments"],
        "paired": result["paired"],
        "NE": result["NE"],
        "PCK@0.2": result["PCK@0.2"],
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f} %"


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(summary: dict[str, Any], df2: dict[str, Any] | None, fld: dict[str, Any] | None) -> None:
    goals = real_val.GOALS
    met = real_val.goals_met(summary)
    print(f"\n{'folder':<11} {'photos':>6} {'garments':>8} {'category':>9} {'box IoU>=.5':>11} {'neg >=.5':>9}")
    for folder, figures in summary["folders"].items():
        print(
            f"{folder:<11} {figures['photos']:>6} {figures.get('garments', 0):>8} "
            f"{_pct(figures.get('category')):>9} {_pct(figures.get('box_iou')):>11} {_pct(figures.get('negatives')):>9}"
        )
    overall, negatives = summary["garment_photos"], summary["negative_photos"]
    print(
        f"{'garments':<11} {overall.get('photos', 0):>6} {overall.get('garments', 0):>8} "
        f"{_pct(overall.get('category')):>9} {_pct(overall.get('box_iou')):>11} {'':>9}"
    )
    print(f"{'hats/shoes':<11} {negatives.get('photos', 0):>6} {'':>30} {_pct(negatives.get('negatives')):>9}")
    folder_shares = [f["category"] for f in summary["folders"].values() if f.get("category") is not None]
    rows = [
        ("top category right overall", overall.get("category"), f">= {goals['category']:.0%}", met["category"]),
        (
            "worst folder",
            min(folder_shares) if folder_shares else None,
            f">= {goals['category_per_folder']:.0%}",
            met["category_per_folder"],
        ),
        (
            "hats/shoes detected >= 0.5",
            negatives.get("negatives"),
            f"<= {goals['negatives_at_most']:.0%}",
            met["negatives"],
        ),
        ("box IoU >= 0.5", overall.get("box_iou"), f">= {goals['box_iou']:.0%}", met["box_iou"]),
    ]
    print("\ngoals (issue 14):")
    for label, value, goal, ok in rows:
        print(f"  {label:<27} {_pct(value)}  goal {goal:<6} {_mark(ok)}")
    if df2 is None:
        print("\nDeepFashion2 sample: absent")
    else:
        print(
            f"\nDeepFashion2 sample ({df2['images']} images, {df2['garments']} garments): "
            f"keypoint AP {df2['keypoint_AP']:.3f}, box AP {df2['box_AP']:.3f}"
        )
    if fld is None:
        print("FLD sample: absent")
    else:
        ne = "-" if fld["NE"] < 0 else f"{fld['NE']:.4f}"
        print(
            f"FLD sample ({fld['images']} images, {fld['paired']} of {fld['garments']} garments with a detection): "
            f"NE {ne}, PCK@0.2 {fld['PCK@0.2']:.3f}"
        )


def _caption(outcome: real_val.Outcome) -> str:
    if outcome.negative:
        return f"{outcome.folder}: {'a garment >= 0.5 (wrong)' if outcome.negative_hit else 'nothing >= 0.5 (right)'}"
    if outcome.top_category is None:
        return f"{outcome.folder}: nothing found (wrong)"
    verdict = "right" if outcome.category_right else "WRONG"
    return f"{outcome.folder}: {category_name(outcome.top_category)} {outcome.top_score:.2f} ({verdict})"


def write_sheet(
    path: Path,
    photos: list[real_val.LabelledPhoto],
    detections: list[list[Garment]],
    outcomes: list[real_val.Outcome],
    root: Path,
) -> None:
    """Per folder, the first photo the model gets right and the first it gets wrong, drawn as ``garmentkp draw``
    draws them (every detection kept), tiled with a caption each."""
    chosen: dict[tuple[str, bool], int] = {}
    for index, outcome in enumerate(outcomes):
        right = not outcome.negative_hit if outcome.negative else outcome.category_right
        chosen.setdefault((outcome.folder, right), index)
    order = sorted(chosen.items(), key=lambda item: (item[0][0], not item[0][1]))
    folder = real_val.photo_folder(root)
    tiles = [draw_garments(read_image(folder / photos[i].file_name), detections[i]) for _, i in order]
    names = [_caption(outcomes[i]) for _, i in order]
    write_image(contact_sheet(tiles, cols=4, cell_width=300, names=names), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="bundled or cached model name, or a .onnx/.pt path")
    parser.add_argument("--root", type=Path, default=real_val.DEFAULT_ROOT, help="the real data (../shared/data/real)")
    parser.add_argument("--score-thr", type=float, default=0.2, help="drop detections below this (as detect)")
    parser.add_argument("--subset", choices=real_val.SUBSETS, default="all", help="which labelled photos")
    parser.add_argument("--flip", action="store_true", help="flip test-time augmentation")
    parser.add_argument("--refine", action="store_true", help="zoomed second pass per garment")
    parser.add_argument("--json", type=Path, help="also write every figure (and each photo's outcome) here")
    parser.add_argument(
        "--sheet",
        type=Path,
        help="also draw a contact sheet of results (per folder, the first photo named right and the first named "
        "wrong, detections drawn) to this image file; it shows the real photos: keep it out of the repository",
    )
    args = parser.parse_args()

    predictor = Predictor(
        args.model, options=DecodeOptions(score_thr=args.score_thr), flip=args.flip, refine=args.refine
    )
    photos = real_val.labelled_photos(args.subset)
    print(
        f"bench_real: model '{args.model}', score >= {args.score_thr:g}"
        f"{', flip' if args.flip else ''}{', refine' if args.refine else ''}; {len(photos)} labelled photos "
        f"({args.subset}) from {real_val.photo_folder(args.root)}"
    )
    started = time.perf_counter()
    detections = real_val.detect_photos(predictor, photos, args.root)
    outcomes = real_val.score_photos(photos, detections)
    summary = real_val.summarise(outcomes)
    df2 = deepfashion2_scores(predictor, args.root)
    fld = fld_scores(predictor, args.root)
    print(f"({time.perf_counter() - started:.0f} s, CPU shared with other work)")
    report(summary, df2, fld)
    if args.sheet is not None:
        write_sheet(args.sheet, photos, detections, outcomes, args.root)
        print(f"contact sheet: {args.sheet}")
    if args.json is not None:
        document = {
            "model": args.model,
            "score_thr": args.score_thr,
            "flip": args.flip,
            "refine": args.refine,
            "subset": args.subset,
            "summary": summary,
            "goals": real_val.GOALS,
            "goals_met": real_val.goals_met(summary),
            "deepfashion2": df2,
            "fld": fld,
            "photos": [
                {"file_name": p.file_name, **dataclasses.asdict(o)} for p, o in zip(photos, outcomes, strict=True)
            ],
        }
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
