"""Benchmark of ``garmentkp detect`` (not a test): throughput, backend ratio, memory over a long run.

Goals (issue 5, on the 2-core CPU with the default model, onnxruntime, 512x512 JPEG inputs):
>= 50 images/s end to end; onnxruntime >= 1.5x torch; peak RSS <= 600 MB over 5,000 images.
Issue 18: the int8 variant (``NAME-int8``, garmentkp quantize) >= 1.6x the float network alone; its
network figures are medians of interleaved float / int8 rounds, its end-to-end one from one run.

Usage: python benchmarks/bench_detect.py [--model NAME|PATH] [--images 400] [--memory-images 5000]
Without --model it uses the bundled default, or, before one is trained, an untrained network of the
default config (same architecture and cost; it reports few garments, so decoding is cheaper).
The CPU may be shared with other work: figures are then pessimistic.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from garmentcli.models.registry import ModelFiles, resolve_model
from garmentcli.runtime.backends import cpu_threads
from garmentcli.runtime.bench import benchmark, write_test_images


def _model(spec: str | None, folder: Path) -> ModelFiles:
    if spec is not None:
        return resolve_model(spec)
    try:
        return resolve_model("default")
    except Exception:
        from garmentcli.models.card import ModelCard
        from garmentcli.models.config import ModelConfig
        from garmentcli.models.export import export_onnx
        from garmentcli.models.network import build_network

        config = ModelConfig()
        path = folder / "untrained.onnx"
        export_onnx(build_network(config).eval(), ModelCard("untrained", config), path)
        print("no bundled default model yet: using an untrained network of the default config")
        return resolve_model(path)


def _int8_variant(model: ModelFiles) -> ModelFiles | None:
    """The model's int8 variant (``garmentkp quantize``), or None when it has none."""
    try:
        return resolve_model(model.onnx if model.origin == "path" else model.name, "int8")
    except Exception:
        return None


def network_only(model: ModelFiles, batch: int = 8, repeats: int = 10) -> float:
    """Images/s of the ONNX graph alone on a fixed batch."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(model.onnx), options, providers=["CPUExecutionProvider"])
    size = model.card.input_size
    images = np.random.default_rng(0).uniform(0, 255, (batch, 3, size, size)).astype(np.float32)
    session.run(None, {"images": images})
    start = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {"images": images})
    return batch * repeats / (time.perf_counter() - start)


def memory_run(model: ModelFiles, count: int, folder: Path) -> None:
    """Run ``garmentkp detect`` over ``count`` images in a child process, sampling its RSS."""
    images = folder / "memory"
    write_test_images(images, count, 512, seed=1)
    out = folder / "memory.jsonl"
    command = [sys.executable, "-m", "garmentcli", "-q", "detect", str(images), "-o", str(out)]
    command += ["--model", str(model.onnx)]
    start = time.perf_counter()
    child = subprocess.Popen(command)
    samples, peak_kb = [], 0
    while child.poll() is None:
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{child.pid}/status").read_text().splitlines())
            samples.append(int(status["VmRSS"].split()[0]))
            peak_kb = int(status["VmHWM"].split()[0])  # the process's own peak (rusage would count the fork's parent)
        except (FileNotFoundError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    seconds = time.perf_counter() - start
    peak_mb = peak_kb / 1024
    done = sum(1 for _ in out.open("rb"))
    quarter = [samples[int(i * (len(samples) - 1) / 4)] / 1024 for i in range(5)] if samples else []
    rate = done / seconds
    print(f"memory run: {done} images in {seconds:.0f} s ({rate:.1f} images/s with start-up), exit {child.returncode}")
    trace = ", ".join(f"{mb:.0f}" for mb in quarter)
    print(
        f"  RSS at 0/25/50/75/100 % of the run: {trace} MB; peak {peak_mb:.0f} MB until the last sample (goal <= 600)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--memory-images", type=int, default=5000, help="0 skips the memory run")
    args = parser.parse_args()
    print(f"CPUs available: {cpu_threads()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        folder = Path(tmp)
        model = _model(args.model, folder)
        print(f"model {model.name}: {model.card.parameters or 0:,} parameters, input {model.card.input_size}px")
        int8 = _int8_variant(model)
        rounds = [(network_only(model), network_only(int8) if int8 else 0.0) for _ in range(3)]
        float_rate = float(np.median([f for f, _ in rounds]))
        print(f"network alone (onnxruntime, batch 8): {float_rate:.1f} images/s")
        if int8 is not None:
            int8_rate = float(np.median([i for _, i in rounds]))
            print(f"int8 network alone ({int8.name}): {int8_rate:.1f} images/s = {int8_rate / float_rate:.2f}x float")
            print(f"  (goal >= 1.6x; rounds float/int8: {', '.join(f'{f:.1f}/{i:.1f}' for f, i in rounds)})")
        sources = write_test_images(folder / "photos", args.images, 512)
        results = {}
        for backend in ("onnx", "torch"):
            result = benchmark(model, sources, backend, args.batch_size)
            results[backend] = result
            stages = ", ".join(f"{k} {v:.2f}" for k, v in result.stage_ms.items())
            rate, cpu_ms = result.images_per_s, 1000 * result.cpu_seconds / result.images
            print(f"{backend:5s} end to end, batch {args.batch_size}: {rate:.1f} images/s (ms/image: {stages})")
            estimate = 1000 * cpu_threads() / cpu_ms
            print(f"      CPU {cpu_ms:.1f} ms/image -> {estimate:.1f} images/s if the cores were ours")
        if int8 is not None:
            result = benchmark(int8, sources, "onnx", args.batch_size)
            ratio = result.images_per_s / results["onnx"].images_per_s
            print(f"int8  end to end, batch {args.batch_size}: {result.images_per_s:.1f} images/s ({ratio:.2f}x float)")
        ratio = results["onnx"].images_per_s / results["torch"].images_per_s
        cpu_ratio = results["torch"].cpu_seconds / results["onnx"].cpu_seconds
        print(f"onnxruntime / torch: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU time (goal >= 1.5x)")
        if args.memory_images:
            memory_run(model, args.memory_images, folder)


if __name__ == "__main__":
    main()
