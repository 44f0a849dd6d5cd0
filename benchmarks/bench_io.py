"""Speed of the annotation readers and writers at DeepFashion2-validation size.

DeepFashion2 validation has 32,153 images and about 54k garments, each written with an
882-long keypoint vector. This builds a synthetic set of that size and times every writer and
reader on it, printing seconds, garments per second and file sizes, plus the process's peak
memory. Run: python benchmarks/bench_io.py [--garments N]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from garmentcli.io.formats import read_annotations, write_annotations
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord


def build_set(garments: int, per_image: float = 1.68, seed: int = 0) -> AnnotationSet:
    rng = np.random.default_rng(seed)
    images: list[ImageRecord] = []
    made = 0
    while made < garments:
        image = ImageRecord(
            len(images) + 1, f"{len(images) + 1:06d}.jpg", 750, 750, extra={"source": "user", "pair_id": 1}
        )
        for _ in range(min(garments - made, 1 + rng.poisson(per_image - 1))):
            category = DF2.categories[int(rng.integers(13))]
            landmarks = np.column_stack(
                [rng.uniform(0, 750, (category.num_landmarks, 2)).round(2), rng.integers(0, 3, category.num_landmarks)]
            )
            image.garments.append(
                Garment(category.id, [10, 20, 300, 400], landmarks, id=made + 1, attributes={"style": 1})
            )
            made += 1
        images.append(image)
    return AnnotationSet(images)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(action: str, fmt: str, seconds: float, garments: int, size_mb: float | None = None) -> None:
    size = "" if size_mb is None else f"  {size_mb:7.1f} MB"
    print(f"{action} {fmt:9s} {seconds:6.2f} s  {garments / seconds:9.0f} garments/s{size}  peak {peak_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--garments", type=int, default=54_000)
    args = parser.parse_args()
    aset = build_set(args.garments)
    print(f"{len(aset)} images, {aset.num_garments} garments; peak memory after building: {peak_mb():.0f} MB")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for fmt, name in (
            ("coco", "gt.json"),
            ("results", "res.json"),
            ("jsonl", "gt.jsonl"),
            ("csv", "gt.csv"),
            ("csv-long", "long.csv"),
        ):
            start = time.perf_counter()
            write_annotations(aset, root / name, fmt)
            seconds = time.perf_counter() - start
            report("write", fmt, seconds, aset.num_garments, (root / name).stat().st_size / 1e6)
        for fmt, name in (("coco", "gt.json"), ("results", "res.json"), ("jsonl", "gt.jsonl"), ("csv", "gt.csv")):
            start = time.perf_counter()
            read = read_annotations(root / name, fmt)
            seconds = time.perf_counter() - start
            assert read.num_garments == aset.num_garments
            report("read ", fmt, seconds, aset.num_garments)
            del read


if __name__ == "__main__":
    main()
