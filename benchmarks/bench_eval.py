"""Benchmark the whole ``garmentkp eval`` command against pycocotools and faster-coco-eval, side by side.

Generates (once, cached in ``--workdir``; seeded, so the same bytes every time) DeepFashion2-shaped
sets: by default the 5,000-image one and one of DeepFashion2 validation's size — 32,153 images,
~54,000 garments with 294-landmark vectors and polygons, ~58,000 results with boxes, landmark
vectors and scores. On each it times the whole job (load both JSON files + keypoint AP with the
DeepFashion2 sigmas + box AP) three ways, each as a whole process of its own (start-up and imports
included, peak RSS its own):

* ``garmentkp``: the ``garmentkp eval`` command (``--metrics ap,box --json``), as a user runs it;
* ``pycocotools``: COCO + loadRes + COCOeval('keypoints') and COCOeval('bbox');
* ``faster-coco-eval``: the same through its COCO / COCOeval_faster.

The tools run in turn (garmentkp, pycocotools, faster-coco-eval, garmentkp, ...) ``--repeat`` times;
it prints per tool the median wall and CPU time (with the range) and peak RSS, the ratios (medians of
the ratios within each round, so a machine whose speed drifts stays fair) and whether the 22 summary
numbers agree (1e-9).

    python benchmarks/bench_eval.py                 # both sets, 3 rounds (pycocotools ~2 min a round at full size)
    python benchmarks/bench_eval.py --images 5000 --repeat 5
    python benchmarks/bench_eval.py --images 3215 --repeat 1   # a tenth of the full size, a quick look

pycocotools and faster-coco-eval come with the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

from garmentcli.schema.layout import DF2, NUM_LANDMARKS

FULL_IMAGES = 32_153
SETS = (5000, FULL_IMAGES)
"""Images of the sets timed by default: the 5,000-image fixture and DeepFashion2 validation's size."""
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
    import orjson

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


def child(tool: str, gt: Path, pred: Path, out: Path) -> None:
    """Run pycocotools or faster-coco-eval; write ``{"keypoints", "bbox"}`` (their ``stats``) to ``out``."""
    with contextlib.redirect_stdout(io.StringIO()):
        if tool == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            keypoints, bbox = run_coco_api(gt, pred, COCO, COCOeval)
        else:
            from faster_coco_eval import COCO, COCOeval_faster

            keypoints, bbox = run_coco_api(gt, pred, COCO, COCOeval_faster)
    out.write_text(json.dumps({"keypoints": keypoints, "bbox": bbox}))


def command(tool: str, gt: Path, pred: Path, out: Path) -> list[str]:
    """The whole-process command line of ``tool``, writing its numbers to ``out``."""
    if tool == "garmentkp":
        flags = ["--metrics", "ap,box", "--json", str(out)]
        return [sys.executable, "-m", "garmentcli", "-q", "eval", "--gt", str(gt), "--pred", str(pred), *flags]
    return [sys.executable, __file__, "--child", tool, str(gt), str(pred), str(out)]


def timed(tool: str, gt: Path, pred: Path) -> dict:
    """One whole-process run: wall and CPU seconds, peak RSS (the operating system's accounting), numbers."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "numbers.json"
        start = time.perf_counter()
        process = subprocess.Popen(command(tool, gt, pred, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        error = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        if process.returncode or not out.is_file():
            raise RuntimeError(f"{tool} failed (exit {process.returncode}): {error[-2000:]}")
        numbers = json.loads(out.read_text())
    if tool == "garmentkp":
        numbers = {
            "keypoints": [numbers["keypoints"][k] for k in KEYPOINT_NAMES],
            "bbox": [numbers["bbox"][k] for k in BOX_NAMES],
        }
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
        "numbers": numbers["keypoints"] + numbers["bbox"],
    }


def spread(values: list[float]) -> str:
    """``median s (min–max)``."""
    return f"{median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def compare(images: int, workdir: Path, tools: list[str], repeat: int) -> None:
    """Time ``tools`` on the set of ``images`` images, ``repeat`` interleaved rounds, and print them side by side."""
    scale = images / FULL_IMAGES
    gt, pred, counts_path = data_paths(workdir, scale)
    if not counts_path.is_file():
        # generated in a subprocess: this process stays small
        subprocess.run(
            [sys.executable, __file__, "--generate", "--scale", repr(scale), "--workdir", str(workdir)], check=True
        )
    counts = json.loads(counts_path.read_text())
    print(
        f"\n{counts['images']} images: {gt.name} ({gt.stat().st_size / 1e6:.0f} MB, {counts['garments']} garments), "
        f"{pred.name} ({pred.stat().st_size / 1e6:.0f} MB, {counts['results']} results); {repeat} round(s)"
    )
    runs: dict[str, list[dict]] = {tool: [] for tool in tools}
    for _ in range(repeat):
        for tool in tools:
            runs[tool].append(timed(tool, gt, pred))
    reference = runs[tools[0]]
    print(f"{'':>17}  {'wall, median (range)':>24}  {'CPU':>24}  {'peak RSS':>9}  {'kp AP':>8}  {'box AP':>8}")
    for tool in tools:
        wall, cpu = [r["wall"] for r in runs[tool]], [r["cpu"] for r in runs[tool]]
        numbers = runs[tool][-1]["numbers"]
        print(
            f"{tool:>17}  {spread(wall):>24}  {spread(cpu):>24}  "
            f"{max(r['peak_mb'] for r in runs[tool]):6.0f} MB  {numbers[0]:.6f}  {numbers[len(KEYPOINT_NAMES)]:.6f}"
        )
    for tool in tools[1:]:
        wall = [o["wall"] / r["wall"] for o, r in zip(runs[tool], reference, strict=True)]
        cpu = [o["cpu"] / r["cpu"] for o, r in zip(runs[tool], reference, strict=True)]
        memory = max(r["peak_mb"] for r in reference) / max(r["peak_mb"] for r in runs[tool])
        ours, theirs = reference[-1]["numbers"], runs[tool][-1]["numbers"]
        same = np.allclose(ours, theirs, rtol=0, atol=1e-9)
        print(
            f"{tools[0]} vs {tool}: {median(wall):.1f}× faster ({min(wall):.1f}–{max(wall):.1f}) in wall time, "
            f"{median(cpu):.1f}× in CPU time; "
            f"peak RSS {memory:.2f}×; numbers {'identical (1e-9)' if same else 'DIFFER'}"
        )
        if not same:
            for name, a, b in zip(KEYPOINT_NAMES + BOX_NAMES, ours, theirs, strict=True):
                print(f"   {name}: {a!r} vs {b!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=list(SETS), help="images of each set to time")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds per set")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "garmentkp_bench_eval")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ", ".join(TOOLS))
    parser.add_argument("--child", nargs=4, metavar=("TOOL", "GT", "PRED", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], *map(Path, args.child[1:]))
        return
    if args.generate:
        generate(args.workdir, args.scale)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    for images in args.images:
        compare(images, args.workdir, args.tools.split(","), args.repeat)


if __name__ == "__main__":
    main()
