"""Benchmark of ``garmentkp detect`` (not a test): throughput, backend ratio, memory over a long run.

Goals (issue 5, on the 2-core CPU with the default model, onnxruntime, 512x512 JPEG inputs):
>= 50 images/s end to end; onnxruntime >= 1.5x torch; peak RSS <= 600 MB over 5,000 images.
Issue 18: the int8 variant (``NAME-int8``, garmentkp quantize) >= 1.6x the float network alone; its
network figures are medians of interleaved float / int8 rounds, its end-to-end one from one run.
The peer (``--peer``, needs ``ultralytics``, in the ``bench`` extra): an ultralytics YOLO11-pose
nano network built for 13 classes and 294 keypoints (random weights: speed only), exported to ONNX
at the model's input size, run by the same onnxruntime settings on the same images (decoded and
letterboxed by the same code, two threads ahead, then YOLO's own post-processing: class score,
non-maximum suppression, the keypoints of the kept boxes). Also the networks' achieved GFLOP/s
against the CPU's peak (cores x clock x FP32 FLOPs per cycle, from /proc/cpuinfo; 32 a cycle for
AVX2/AVX-512 on two 256-bit FMA pipes, an assumption stated in the output).

Usage: python benchmarks/bench_detect.py [--model NAME|PATH] [--images 400] [--memory-images 5000] [--peer]
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


def _session(path: Path) -> ort.InferenceSession:
    """An onnxruntime session with the settings ``detect`` uses."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def network_only(model: ModelFiles | Path, batch: int = 8, repeats: int = 10, size: int = 256) -> float:
    """Images/s of the ONNX graph alone on a fixed batch."""
    session = _session(model.onnx if isinstance(model, ModelFiles) else model)
    size = model.card.input_size if isinstance(model, ModelFiles) else size
    images = np.random.default_rng(0).uniform(0, 255, (batch, 3, size, size)).astype(np.float32)
    session.run(None, {"images": images})
    start = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {"images": images})
    return batch * repeats / (time.perf_counter() - start)


def cpu_peak_gflops() -> tuple[float, str]:
    """The CPUs' FP32 peak as cores x clock x 32 FLOPs a cycle, and how it was worked out."""
    text = Path("/proc/cpuinfo").read_text()
    mhz = max(float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz"))
    peak = cpu_threads() * mhz / 1000 * 32
    return peak, f"{cpu_threads()} CPUs x {mhz / 1000:.2f} GHz x 32 FP32 FLOPs a cycle (2 x 256-bit FMA)"


def yolo_pose_peer(folder: Path, size: int) -> tuple[Path, float, int]:
    """The YOLO11n-pose peer for 13 classes and 294 keypoints as ONNX: (path, GFLOPs per image, parameters)."""
    import torch
    from ultralytics.nn.tasks import PoseModel
    from ultralytics.utils.torch_utils import get_flops

    torch.manual_seed(0)
    network = PoseModel(cfg="yolo11n-pose.yaml", nc=13, data_kpt_shape=(294, 3), verbose=False).eval()
    gflops = get_flops(network, size)  # ultralytics' own count (thop, FLOPs = 2 x MACs)
    for module in network.modules():  # the deployed form, as ultralytics' exporter sets it
        if hasattr(module, "export"):
            module.export = True
            module.format = "onnx"
    path = folder / "yolo11n-pose-294.onnx"
    example = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        network, example, str(path), dynamo=False, opset_version=17, input_names=["images"],
        output_names=["output"], dynamic_axes={"images": {0: "batch"}, "output": {0: "batch"}},
    )  # fmt: skip
    return path, gflops, sum(p.numel() for p in network.parameters())


def yolo_postprocess(output: np.ndarray, classes: int = 13, score_thr: float = 0.2, max_dets: int = 20) -> list:
    """ultralytics-style decoding of one image's ``(4 + classes + 294 * 3, anchors)`` output: boxes above
    ``score_thr``, class-aware NMS at IoU 0.7, at most ``max_dets``, with their keypoints."""
    import cv2

    boxes, scores = output[:4].T, output[4 : 4 + classes].T
    best, cls = scores.max(axis=1), scores.argmax(axis=1)
    keep = np.flatnonzero(best >= score_thr)
    xywh = np.column_stack([boxes[keep, :2] - boxes[keep, 2:] / 2, boxes[keep, 2:]])
    shifted = xywh + np.column_stack([cls[keep] * 4096.0, np.zeros((len(keep), 3))])  # class-aware, as ultralytics
    chosen = cv2.dnn.NMSBoxes(shifted.tolist(), best[keep].tolist(), score_thr, 0.7, top_k=max_dets)
    chosen = np.asarray(chosen, dtype=int).reshape(-1)[:max_dets]
    keypoints = output[4 + classes :, keep[chosen]].T.reshape(len(chosen), (len(output) - 4 - classes) // 3, 3)
    return list(zip(xywh[chosen], best[keep][chosen], cls[keep][chosen], keypoints, strict=True))


def peer_end_to_end(path: Path, sources: list, size: int, batch: int) -> float:
    """Images/s of the peer over ``sources``: decode + letterbox (2 threads ahead), network, YOLO decoding."""
    from concurrent.futures import ThreadPoolExecutor

    from garmentcli.io.images import read_image
    from garmentcli.runtime.letterbox import letterbox, to_tensor

    session = _session(path)
    session.run(None, {"images": np.zeros((batch, 3, size, size), np.float32)})
    found = 0
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        canvases = pool.map(lambda s: letterbox(read_image(s.path), size)[0], sources)
        chunk: list[np.ndarray] = []
        for canvas in canvases:
            chunk.append(canvas)
            if len(chunk) == batch:
                found += sum(len(yolo_postprocess(o)) for o in session.run(None, {"images": to_tensor(chunk)})[0])
                chunk = []
        if chunk:
            found += sum(len(yolo_postprocess(o)) for o in session.run(None, {"images": to_tensor(chunk)})[0])
    return len(sources) / (time.perf_counter() - start)


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
        f"  RSS at 0/25/50/75/100 % of the run: {trace} MB; peak {peak_mb:.0f} MB until the last sample "
        "(goals: <= 600, issue 5; <= 450, issue 18)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--memory-images", type=int, default=5000, help="0 skips the memory run")
    parser.add_argument("--peer", action="store_true", help="also time the YOLO11n-pose peer (needs ultralytics)")
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
        if args.peer:
            size = model.card.input_size
            peer, peer_gflops, peer_params = yolo_pose_peer(folder, size)
            ours_gflops = (model.card.metrics.get("flops_per_image") or 0) / 1e9
            rounds = [(network_only(model), network_only(peer, size=size)) for _ in range(3)]
            ours_net, peer_net = (float(np.median(r)) for r in zip(*rounds, strict=True))
            print(
                f"peer: YOLO11n-pose, 13 classes x 294 keypoints, {peer_params / 1e6:.2f} M parameters, "
                f"{peer_gflops:.2f} GFLOPs at {size}px; "
                f"ours {model.card.parameters / 1e6:.2f} M, {ours_gflops:.2f} GFLOPs"
            )
            print(
                f"network alone, batch 8: ours {ours_net:.1f} / peer {peer_net:.1f} images/s "
                f"= {ours_net / peer_net:.2f}x"
                f" (rounds: {', '.join(f'{a:.1f}/{b:.1f}' for a, b in rounds)})"
            )
            peer_rate = peer_end_to_end(peer, sources, size, args.batch_size)
            ours_rate = results["onnx"].images_per_s
            print(f"end to end: ours {ours_rate:.1f} / peer {peer_rate:.1f} images/s = {ours_rate / peer_rate:.2f}x")
            peak, how = cpu_peak_gflops()
            print(
                f"achieved: ours {ours_gflops * ours_net:.0f} GFLOP/s, peer {peer_gflops * peer_net:.0f} GFLOP/s; "
                f"CPU peak {peak:.0f} GFLOP/s ({how}): {100 * ours_gflops * ours_net / peak:.0f} % / "
                f"{100 * peer_gflops * peer_net / peak:.0f} %"
            )
        if args.memory_images:
            memory_run(model, args.memory_images, folder)


if __name__ == "__main__":
    main()
