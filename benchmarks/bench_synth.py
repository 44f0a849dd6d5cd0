"""Speed of ``garmentkp synth``: images per second, end to end (generate, JPEG-encode, write annos + coco.json).

Goal: >= 30 images/s at 512 x 512 on 2 cores. Runs the library's writer (the same code the CLI
runs) into a temporary folder, once per worker count, and prints wall-clock images/s and the ratio
to the goal. Wall-clock timings on a machine shared with other work are pessimistic, so it also
measures the CPU time one image costs in a single process (``time.process_time``, which does not
count time spent waiting for a core) and projects the rate of two free cores from it.

    python benchmarks/bench_synth.py                      # 200 images, 512 px, 1 and 2 workers, both looks
    python benchmarks/bench_synth.py --images 60 --marker  # a quick look, with an ArUco marker
    python benchmarks/bench_synth.py --style realistic     # the default look only
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from garmentcli.synth.markers import MarkerSpec
from garmentcli.synth.scene import STYLES, SynthConfig, board_layout
from garmentcli.synth.writer import write_dataset

GOAL_IMAGES_PER_S = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--marker", action="store_true", help="one 8 cm ArUco marker per image")
    parser.add_argument("--board", action="store_true", help="a marked table (four markers)")
    parser.add_argument("--style", nargs="+", default=list(STYLES), choices=STYLES, help="looks to time")
    args = parser.parse_args()
    for style in args.style:
        config = SynthConfig(
            seed=1,
            size=args.size,
            marker=MarkerSpec() if args.marker else None,
            board=board_layout(None) if args.board else None,
            style=style,
        )
        run(config, args)


def run(config: SynthConfig, args: argparse.Namespace) -> None:
    print(f"synth benchmark, style {config.style}: {args.images} images of {args.size} px, cores: {os.cpu_count()}")
    print(f"{'workers':>8} {'seconds':>9} {'images/s':>9} {'vs goal':>8}")
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            summary = write_dataset(folder, config, args.images, workers=workers)
            elapsed = time.perf_counter() - start
        rate = summary.written / elapsed
        print(f"{workers:>8} {elapsed:>9.2f} {rate:>9.1f} {rate / GOAL_IMAGES_PER_S:>7.2f}x")
    with tempfile.TemporaryDirectory() as folder:
        cpu_start = time.process_time()
        summary = write_dataset(folder, config, args.images, workers=1)
        cpu_per_image = (time.process_time() - cpu_start) / summary.written
    projected = 2 / cpu_per_image
    print(
        f"CPU time per image (1 process): {1000 * cpu_per_image:.1f} ms -> projected on 2 free cores: "
        f"{projected:.1f} images/s ({projected / GOAL_IMAGES_PER_S:.2f}x the goal)"
    )
    print(f"goal: {GOAL_IMAGES_PER_S:.0f} images/s at 512 px on 2 cores (load average now: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
