"""Benchmark of ``detect --engine ray`` against the local ``detect`` (not a test; issue 19).

On the same synthetic 512 px flat-lays: images/s of the local run (2 threads, and 1) and of the
Ray run with 1 and 2 actors (one CPU and one onnxruntime thread each) on a one-node cluster of
this machine, two ways:

- end to end: the whole ``garmentkp detect`` command, wall time, as a user sees it (the Ray run
  includes connecting to the cluster and starting its actors: seconds, paid once a run);
- steady: in this process, images/s from the first result to the last, the rate that a long run
  approaches. The steady Ray rate with one actor is the per-actor figure docs/scale.md's estimate
  for ten million images uses.

Ratios (local / Ray, above 1 = Ray slower) are at equal cores: 1 actor against 1 thread, 2 actors
against 2 threads. Each figure is the median of ``--repeats`` runs with the min-max spread.

Usage: python benchmarks/bench_scale.py [--images 1000] [--repeats 3] [--ray-address HOST:PORT]
Without --ray-address it starts a head node here (``ray start --head --num-cpus 2``) and stops
it after (``ray stop --force``, which stops every Ray process of this machine).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from garmentcli.choices import AUTO_PRECISION, DEFAULT_MODEL
from garmentcli.io.df2 import image_ids_from_names
from garmentcli.io.sources import expand_sources
from garmentcli.models.registry import precision_spec
from garmentcli.runtime.predictor import Predictor
from garmentcli.scale.cluster import PredictorSpec
from garmentcli.scale.run import cluster_lines

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}
MODEL = precision_spec(DEFAULT_MODEL, AUTO_PRECISION, "onnx", "cpu")
"""The model a plain ``garmentkp detect`` runs here (``--precision auto``: the default's int8 variant)."""
RAY = [sys.executable, "-m", "ray.scripts.scripts"]
BURST_S = 0.005
"""Records closer than this to the first came with it (one batch or block is handed on in microseconds)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def end_to_end(folder: Path, out: Path, extra: list[str], threads: int) -> float:
    """Images/s of one whole ``garmentkp detect`` command."""
    count = len(expand_sources([str(folder)]))
    command = [sys.executable, "-m", "garmentcli", "-q", "detect", str(folder), "-o", str(out), *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**ENV, "GARMENTKP_THREADS": str(threads)})
    return count / (time.perf_counter() - start)


def steady(records: Iterable[object]) -> float:
    """Images/s from the first batch of records to the last (what a long run approaches): the records that
    arrive with the first (a batch, a block: done before the clock starts) do not count."""
    stamps = [time.perf_counter() for _ in records]
    later = [stamp for stamp in stamps if stamp > stamps[0] + BURST_S]
    return len(later) / (stamps[-1] - stamps[0]) if later else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="a run worth a cluster: start-up is paid once")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray-address", default=None)
    args = parser.parse_args()
    address = args.ray_address
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synth = [sys.executable, "-m", "garmentcli", "-q", "synth", str(root / "s"), "--count", str(args.images)]
        subprocess.run([*synth, "--size", "512", "--seed", "7"], check=True)
        folder = root / "s" / "image"
        sources = expand_sources([str(folder)])
        ids = image_ids_from_names([s.name for s in sources])
        if address is None:
            address = f"127.0.0.1:{_free_port()}"
            head = [*RAY, "start", "--head", "--port", address.split(":")[1], "--num-cpus", "2"]
            subprocess.run([*head, "--include-dashboard=false", "--disable-usage-stats"], check=True, env=ENV)
            started = True
        else:
            started = False
        os.environ["RAY_AUTH_MODE"] = ENV["RAY_AUTH_MODE"]
        try:
            figures: dict[str, dict[str, list[float]]] = {}
            for _ in range(args.repeats):
                for threads in (2, 1):
                    name = f"local, {threads} thread{'s' if threads > 1 else ''}"
                    entry = figures.setdefault(name, {"end to end": [], "steady": []})
                    entry["end to end"].append(end_to_end(folder, root / "local.json", [], threads))
                    os.environ["GARMENTKP_THREADS"] = str(threads)
                    predictor = Predictor(MODEL)
                    entry["steady"].append(steady(predictor.predict_sources(sources, ids)))
                for actors in (1, 2):
                    name = f"Ray, {actors} actor{'s' if actors > 1 else ''}"
                    entry = figures.setdefault(name, {"end to end": [], "steady": []})
                    ray = ["--engine", "ray", "--ray-address", address, "--ray-actors", str(actors)]
                    entry["end to end"].append(end_to_end(folder, root / "ray.json", ray, 1))
                    spec = PredictorSpec.of(Predictor(MODEL), MODEL, "cpu")
                    entry["steady"].append(steady(cluster_lines(sources, ids, spec, print, address, actors)))
        finally:
            if started:
                subprocess.run([*RAY, "stop", "--force"], check=False, capture_output=True, env=ENV)
    print(f"{args.images} synthetic 512 px flat-lays, model {MODEL}, {args.repeats} runs each,", end=" ")
    print("images/s median (min-max):")
    for name, entry in figures.items():
        print(f"  {name:18s} end to end {_spread(entry['end to end'])}   steady {_spread(entry['steady'])}")
    print("local / Ray at equal cores (median of the per-run ratios; > 1: Ray slower):")
    for threads, actors in ((1, 1), (2, 2)):
        local = figures[f"local, {threads} thread{'s' if threads > 1 else ''}"]
        ray = figures[f"Ray, {actors} actor{'s' if actors > 1 else ''}"]
        for kind in ("end to end", "steady"):
            ratios = [a / b for a, b in zip(local[kind], ray[kind], strict=True)]
            print(f"  {threads} core{'s' if threads > 1 else ''}, {kind:10s} {_spread(ratios)}")
    one = figures["Ray, 1 actor"]["steady"]
    print(f"per actor (steady, 1 actor on 1 CPU): {statistics.median(one):.1f} images/s")
    for name, entry in figures.items():  # start-up: Python, the model, for Ray the cluster and its actors
        fixed = [args.images / a - args.images / b for a, b in zip(entry["end to end"], entry["steady"], strict=True)]
        print(f"start-up of a run (end to end less the images at the steady rate), {name}: {_spread(fixed)} s")


if __name__ == "__main__":
    main()
