"""Benchmark ``garmentkp eval`` against pycocotools and faster-coco-eval on a DeepFashion2-validation-sized set.

Generates (once, cached in ``--workdir``) a synthetic set shaped like DeepFashion2 validation —
32,153 images, ~54,000 garments with 294-landmark vectors and polygons, ~58,000 results with boxes,
landmark vectors and scores — then times the whole job (load both JSON files + keypoint AP with the
DeepFashion2 sigmas + box AP) three ways, each in its own subprocess so its peak RSS is its own:

* ``garmentkp``: the ``garmentkp eval`` command (``--metrics ap,box``);
* ``pycocotools``: COCO + loadRes + COCOeval('keypoints') and COCOeval('bbox');
* ``faster-coco-eval``: the same through its COCO / COCOeval_faster.

It prints wall times, ratios, peak RSS and checks that the 22 summary numbers agree (1e-9).

    python benchmarks/bench_eval.py               # full size (takes minutes; pycocotools alone ~1.5 min)
    python benchmarks/bench_eval.py --scale 0.1   # a tenth, for a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from garmentcli.schema.layout import DF2, NUM_LANDMARKS

FULL_IMAGES = 32_153
GARMENTS_PER_IMAGE = ([1, 2, 3], [0.45, 0.42, 0.13])
EXTRA_RESULTS = 0.16
"""False positives and duplicates per garment, on top of one noisy detection for 92 % of garments."""
TOOLS = ("garmentkp", "pycocotools", "faster-coco-eval")
KEYPOINT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
BOX_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def data_paths(folder: Path, scale: float) -> tuple[Path, Path, Path]:
    """Ground truth, results and the counts file of the set at ``scale``."""
    return folder / f"gt_{scale:g}.json", folder / f"pred_{scale:g}.json", folder / f"counts_{scale:g}.json"


def generate(folder: Path, scale: float, seed: int = 0) -> None:
    """Write the ground truth (DeepFashion2 COCO form), the results (a result list) and their counts."""
    gt_path, pred_path, counts_path = data_paths(folder, scale)
    rng = np.random.default_rng(seed)
    num_images = max(1, round(FULL_IMAGES * scale))
    per_image = rng.choice(GARMENTS_PER_IMAGE[0], size=num_images, p=GARMENTS_PER_IMAGE[1])
    image_of = np.repeat(np.arange(1, num_images + 1), per_image)
    n = len(image_of)
    categories = rng.integers(1, 14, size=n)
    size = rng.uniform(30, 700, size=(n, 1)) * rng.uniform(0.6, 1.4, size=(n, 2))
    corner = rng.uniform(0, 1, size=(n, 2)) * np.maximum(800 - size, 1)
    boxes = np.round(np.concatenate([corner, size], axis=1))
    keypoints = np.zeros((n, NUM_LANDMARKS, 3))
    for category in DF2.categories:
        rows = np.flatnonzero(categories == category.id)
        k = category.num_landmarks
        uv = rng.uniform(0, 1, size=(len(rows), k, 2))
        keypoints[rows[:, None], np.arange(category.offset, category.offset + k)[None, :], :2] = np.round(
            boxes[rows, None, :2] + uv * boxes[rows, None, 2:]
        )
        keypoints[rows[:, None], np.arange(category.offset, category.offset + k)[None, :], 2] = rng.choice(
            [0, 1, 2], size=(len(rows), k), p=[0.15, 0.3, 0.55]
        )
    keypoints[keypoints[..., 2] == 0] = 0
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    annotations = []
    for i in range(n):
        x, y, w, h = boxes[i]
        polygon = np.round(np.stack([x + w / 2 * (1 + np.cos(angles)), y + h / 2 * (1 + np.sin(angles))], 1), 2)
        annotations.append(
            {
                "area": float(w * h),
                "bbox": boxes[i],
                "category_id": int(categories[i]),
                "id": i + 1,
                "pair_id": int(image_of[i]),
                "image_id": int(image_of[i]),
                "iscrowd": 0,
                "style": int(rng.integers(0, 3)),
                "num_keypoints": int(np.count_nonzero(keypoints[i, :, 2])),
                "keypoints": keypoints[i].ravel(),
                "segmentation": [polygon.ravel()],
            }
        )
    images = [{"id": i, "file_name": f"{i:06d}.jpg", "width": 800, "height": 800} for i in range(1, num_images + 1)]
    categories_json = [
        {"id": c.id, "name": c.name, "supercategory": "clothes", "keypoints": [str(j) for j in range(1, 295)]}
        for c in DF2.categories
    ]
    gt_path.write_bytes(
        orjson.dumps(
            {"images": images, "annotations": annotations, "categories": categories_json},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
    )
    detected = np.flatnonzero(rng.uniform(size=n) < 0.92)
    extra = rng.integers(0, n, size=int(EXTRA_RESULTS * n))
    sources = np.concatenate([detected, extra])
    noise = (
        rng.choice([0.02, 0.05, 0.1, 0.3], size=len(sources))[:, None] * np.sqrt(boxes[sources, 2:].prod(1))[:, None]
    )
    pred_boxes = np.round(boxes[sources] + rng.normal(size=(len(sources), 4)) * noise / 3, 3)
    pred_boxes[:, 2:] = np.abs(pred_boxes[:, 2:]) + 1
    pred_categories = np.where(
        rng.uniform(size=len(sources)) < 0.1, rng.integers(1, 14, len(sources)), categories[sources]
    )
    results = []
    for j, source in enumerate(sources.tolist()):
        category = DF2.category(int(pred_categories[j]))
        points = np.zeros((NUM_LANDMARKS, 3))
        k = category.num_landmarks
        base = keypoints[source, category.slice, :2] if category.id == categories[source] else boxes[source, None, :2]
        points[category.slice, :2] = np.round(base + rng.normal(size=(k, 2)) * noise[j], 3)
        points[category.slice, 2] = np.round(rng.uniform(size=k), 3)
        results.append(
            {
                "image_id": int(image_of[source]),
                "category_id": category.id,
                "bbox": pred_boxes[j],
                "keypoints": points.ravel(),
                "score": round(float(rng.uniform()), 4),
            }
        )
    pred_path.write_bytes(orjson.dumps(results, option=orjson.OPT_SERIALIZE_NUMPY))
    counts_path.write_text(json.dumps({"images": num_images, "garments": n, "results": len(results)}))


def run_garmentkp(gt: Path, pred: Path) -> tuple[list[float], list[float]]:
    from garmentcli.cli.app import app

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "eval.json"
        app(
            ["--quiet", "eval", "--gt", str(gt), "--pred", str(pred), "--metrics", "ap,box", "--json", str(out)],
            standalone_mode=False,
        )
        result = json.loads(out.read_text())
    return [result["keypoints"][k] for k in KEYPOINT_NAMES], [result["bbox"][k] for k in BOX_NAMES]


def run_coco_api(gt: Path, pred: Path, coco_class, eval_class) -> tuple[list[float], list[float]]:
    """pycocotools' and faster-coco-eval's classic API: one load, two evaluations."""
    coco_gt = coco_class(str(gt))
    coco_dt = coco_gt.loadRes(str(pred))
    stats = []
    for kind in ("keypoints", "bbox"):
        evaluator = eval_class(coco_gt, coco_dt, kind)
        if kind == "keypoints":
            evaluator.params.kpt_oks_sigmas = DF2.oks_sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        stats.append([float(s) for s in evaluator.stats])
    return stats[0], stats[1]


def child(tool: str, gt: Path, pred: Path) -> None:
    """Run one tool, print ``{"seconds", "peak_rss_mb", "keypoints", "bbox"}`` as the last stdout line."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if tool == "garmentkp":
            keypoints, bbox = run_garmentkp(gt, pred)
        elif tool == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            keypoints, bbox = run_coco_api(gt, pred, COCO, COCOeval)
        else:
            from faster_coco_eval import COCO, COCOeval_faster

            keypoints, bbox = run_coco_api(gt, pred, COCO, COCOeval_faster)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "keypoints": keypoints, "bbox": bbox}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the DeepFashion2 validation size")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "garmentkp_bench_eval")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ", ".join(TOOLS))
    parser.add_argument("--child", nargs=3, metavar=("TOOL", "GT", "PRED"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    if args.generate:
        generate(args.workdir, args.scale)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    gt, pred, counts_path = data_paths(args.workdir, args.scale)
    if not counts_path.is_file():
        # generated in a subprocess: this process stays small, so each tool's peak RSS is its own
        command = [sys.executable, __file__, "--generate", "--scale", str(args.scale), "--workdir", str(args.workdir)]
        subprocess.run(command, check=True)
    counts = json.loads(counts_path.read_text())
    print(
        f"data: {counts['images']} images; "
        f"{gt.name} ({gt.stat().st_size / 1e6:.0f} MB, {counts['garments']} garments), "
        f"{pred.name} ({pred.stat().st_size / 1e6:.0f} MB, {counts['results']} results); ready in "
        f"{time.perf_counter() - start:.1f} s"
    )
    figures = {}
    for tool in args.tools.split(","):
        done = subprocess.run(
            [sys.executable, __file__, "--child", tool, str(gt), str(pred)], capture_output=True, text=True, check=False
        )
        if done.returncode:
            print(f"{tool}: failed\n{done.stderr[-2000:]}")
            continue
        figures[tool] = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{tool:>17}: {figures[tool]['seconds']:7.1f} s   peak RSS {figures[tool]['peak_rss_mb']:7.0f} MB   "
            f"kp AP {figures[tool]['keypoints'][0]:.6f}   box AP {figures[tool]['bbox'][0]:.6f}"
        )
    ours = figures.get("garmentkp")
    for tool, other in figures.items():
        if tool == "garmentkp" or ours is None:
            continue
        same = np.allclose(ours["keypoints"] + ours["bbox"], other["keypoints"] + other["bbox"], rtol=0, atol=1e-9)
        print(
            f"garmentkp vs {tool}: {other['seconds'] / ours['seconds']:.1f}x faster, "
            f"peak RSS {ours['peak_rss_mb'] / other['peak_rss_mb']:.2f}x, "
            f"numbers {'identical (1e-9)' if same else 'DIFFER'}"
        )
        if not same:
            for name, a, b in zip(
                KEYPOINT_NAMES + BOX_NAMES,
                ours["keypoints"] + ours["bbox"],
                other["keypoints"] + other["bbox"],
                strict=True,
            ):
                print(f"   {name}: {a!r} vs {b!r}")


if __name__ == "__main__":
    main()
