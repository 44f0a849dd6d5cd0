"""Time ``garmentkp eval --report`` against the plain ``garmentkp eval`` on a 5,000-image set (goal: ≤ 2×).

The set is ``bench_eval.py``'s DeepFashion2-shaped fixture at 5,000 images (about 8,400 garments with
294-landmark vectors and 9,000 results with boxes, landmarks and scores), with DeepFashion2 attributes
(scale, occlusion, zoom_in, viewpoint) added to the ground truth so the report draws its by-attribute
section too. The images folder holds one 800 × 800 JPEG linked under every file name, so that
``--images`` reads, draws and embeds the worst and best images as it would real photos.

Each command runs once in its own process, as a user would run it (imports included):

* plain:  ``garmentkp --quiet eval --gt GT --pred PRED --json scores.json`` (every metric the inputs allow);
* report: the same with ``--report report.html --images IMAGES``.

It prints both wall times, the ratio, and the report's size.

    python benchmarks/bench_report.py              # 5,000 images
    python benchmarks/bench_report.py --images 1000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval import FULL_IMAGES, generate

ATTRIBUTE_KEYS = ("scale", "occlusion", "zoom_in", "viewpoint")


def fixture(folder: Path, images: int) -> tuple[Path, Path, Path]:
    """Ground truth (with attributes), predictions and an images folder for ``images`` images (cached)."""
    scale = images / FULL_IMAGES
    gt, pred = folder / f"gt_{scale:g}.json", folder / f"pred_{scale:g}.json"
    with_attributes = folder / f"gt_attributes_{images}.json"
    image_dir = folder / f"images_{images}"
    if not with_attributes.is_file():
        if not gt.is_file():
            generate(folder, scale)
        document = orjson.loads(gt.read_bytes())
        rng = np.random.default_rng(1)
        for annotation in document["annotations"]:
            for key in ATTRIBUTE_KEYS:
                annotation[key] = int(rng.integers(1, 4))
        with_attributes.write_bytes(orjson.dumps(document))
    if not image_dir.is_dir():
        image_dir.mkdir()
        picture = np.full((800, 800, 3), 150, dtype=np.uint8)
        cv2.putText(picture, "bench", (300, 400), cv2.FONT_HERSHEY_SIMPLEX, 3, (60, 60, 60), 5)
        cv2.imwrite(str(folder / "one.jpg"), picture)
        for i in range(1, images + 1):
            (image_dir / f"{i:06d}.jpg").symlink_to(folder / "one.jpg")
    return with_attributes, pred, image_dir


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="images in the set (default 5,000)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "garmentkp_bench_report")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    gt, pred, images = fixture(args.workdir, args.images)
    print(f"data: {args.images} images, {gt.name} and {pred.name}; ready in {time.perf_counter() - start:.1f} s")
    base = [sys.executable, "-m", "garmentcli", "--quiet", "eval", "--gt", str(gt), "--pred", str(pred)]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        plain = timed([*base, "--json", str(out / "plain.json")])
        report = timed(
            [*base, "--json", str(out / "report.json"), "--report", str(out / "r.html"), "--images", str(images)]
        )
        size = (out / "r.html").stat().st_size
        same = orjson.loads((out / "plain.json").read_bytes()) == orjson.loads((out / "report.json").read_bytes())
    print(f"plain eval:          {plain:6.1f} s")
    print(f"eval --report:       {report:6.1f} s   (report {size / 1e6:.1f} MB; --json output identical: {same})")
    print(f"ratio:               {report / plain:6.2f}x   (goal <= 2x)")


if __name__ == "__main__":
    main()
