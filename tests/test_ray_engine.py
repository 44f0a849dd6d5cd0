"""``--engine ray`` on a real Ray cluster: a head and a worker node started with ``ray start`` on 127.0.0.1.

The cluster is started once for the module (one CPU and a small object store per node) and torn
down after, also when a test fails. Each run is a ``garmentkp`` process, as a user runs it; the
local run of the same images is the reference: the same records (scores and coordinates within
1e-5), ids, file names and one-line failures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

from garmentcli.io.images import read_image
from garmentcli.io.jsonl import read_jsonl
from garmentcli.io.sources import expand_sources
from garmentcli.scale.cluster import read_block
from garmentcli.scale.listing import list_images
from garmentcli.scale.shards import shard_folder

COUNT = 100
BAD = ("zz_text.jpg", "zz_truncated.jpg")
NODE = ["--num-cpus", "1", "--object-store-memory", "200000000", "--disable-usage-stats"]
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}
"""Every ray and garmentkp process of the tests: a cluster on 127.0.0.1 for the tests alone, no token (a local
``ray.init`` elsewhere on this machine may have left one in ~/.ray, which would split the nodes)."""
RAY = [sys.executable, "-m", "ray.scripts.scripts"]
"""The ``ray`` command of this Python, wherever pip put its scripts."""
FAST_DEATH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}
"""A dead node is noticed in a few seconds instead of about twenty."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ray(*args: str, env: dict[str, str] | None = None) -> None:
    command = ["nice", "-n", "10", *RAY, *args]
    done = subprocess.run(command, capture_output=True, text=True, env={**ENV, **(env or {})}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _garmentkp(*args: str | Path) -> subprocess.Popen:
    command = ["nice", "-n", "10", sys.executable, "-m", "garmentcli", *map(str, args)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, preexec_fn=_default_ctrl_c
    )


def _default_ctrl_c() -> None:
    """Ctrl-C as in a terminal, even when the tests run in a background job (whose children inherit an ignored
    SIGINT, and a Python started so never turns it into KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    process = _garmentkp(*args)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _errors(stderr: str) -> list[str]:
    return sorted(line for line in stderr.splitlines() if line.startswith("error:"))


class Cluster:
    """A head and one worker node on this machine; the worker node can be killed."""

    def __init__(self, attempts: int = 3) -> None:
        for attempt in range(attempts):  # a node that misses Ray's fixed 30 s start-up wait on a loaded machine
            self.port = _free_port()
            self.address = f"127.0.0.1:{self.port}"
            try:
                _ray("start", "--head", "--port", str(self.port), "--include-dashboard=false", *NODE, env=FAST_DEATH)
                _ray("start", "--address", self.address, *NODE)
                return
            except AssertionError:
                subprocess.run([*RAY, "stop", "--force"], capture_output=True, timeout=120, env=ENV)
                if attempt == attempts - 1:
                    raise

    def kill_worker(self) -> None:
        """SIGKILL the worker node's raylet and every process it started (its workers, its actor)."""
        rows = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):  # not a process, or one that just ended
                continue
            rows.append((int(entry.name), parent, [a.decode(errors="replace") for a in args]))
        raylets = [pid for pid, _, args in rows if args[0].endswith("raylet/raylet") and "--head" not in args]
        assert len(raylets) == 1, raylets
        doomed = set(raylets)
        while True:  # the raylet's descendants
            more = {pid for pid, parent, _ in rows if parent in doomed} - doomed
            if not more:
                break
            doomed |= more
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster():
    try:
        started = Cluster()
        yield started
    finally:
        subprocess.run([*RAY, "stop", "--force"], capture_output=True, timeout=120, env=ENV)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """100 synthetic flat-lays, a text file named .jpg and a truncated JPEG."""
    root = tmp_path_factory.mktemp("ray")
    made = _run("synth", root / "synth", "--count", COUNT, "--size", 256, "--workers", 1, "-q")
    assert made.returncode == 0, made.stderr
    folder = root / "synth" / "image"
    (folder / BAD[0]).write_text("not an image")
    (folder / BAD[1]).write_bytes((folder / "000005.jpg").read_bytes()[:3000])
    return folder


@pytest.fixture(scope="module")
def local(photos) -> tuple[dict, subprocess.CompletedProcess]:
    """The local run: the reference."""
    out = photos.parent / "local.json"
    done = _run("detect", photos, "-o", out, "--failures", photos.parent / "local.failures")
    assert done.returncode == 2, done.stderr
    return json.loads(out.read_text()), done


def assert_same_records(found: dict, expected: dict) -> None:
    """The same images (ids, file names, sizes), run record and garments, numbers within 1e-5."""
    assert found["images"] == expected["images"]
    assert found["garmentkp_run"] == expected["garmentkp_run"]
    assert len(found["annotations"]) == len(expected["annotations"])
    for got, want in zip(found["annotations"], expected["annotations"], strict=True):
        assert (got["id"], got["image_id"], got["category_id"]) == (want["id"], want["image_id"], want["category_id"])
        for key in ("score", "bbox", "keypoints"):
            np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-5)


def test_ray_run_gives_the_local_records_and_failures(cluster, photos, local):
    expected, local_run = local
    out = photos.parent / "ray.json"
    failures = photos.parent / "ray.failures"
    args = ["--engine", "ray", "--ray-address", cluster.address, "--ray-actors", 2, "--failures", failures]
    done = _run("detect", photos, "-o", out, *args)
    assert done.returncode == 2, done.stderr
    assert_same_records(json.loads(out.read_text()), expected)
    assert _errors(done.stderr) == _errors(local_run.stderr)
    assert [line.split(": ")[1] for line in _errors(done.stderr)] == [str(photos / name) for name in BAD]
    assert failures.read_text() == (photos.parent / "local.failures").read_text()
    assert not shard_folder(out).exists()


def test_resume_after_an_interrupted_ray_run(cluster, photos, local):
    expected, _ = local
    out = photos.parent / "resumed.json"
    ray = ["--engine", "ray", "--ray-address", cluster.address, "--ray-actors", 1]
    run = _garmentkp("detect", photos, "-o", out, *ray)
    deadline = time.monotonic() + 300  # a loaded machine starts Ray slowly
    while not list(shard_folder(out).glob("block-*.jsonl")) and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "--resume" in stderr
    assert not out.exists()
    shards = list(shard_folder(out).glob("block-*.jsonl"))
    assert shards

    refused = _run("detect", photos, "-o", out, *ray, "--resume", "--score-thr", "0.3")
    assert refused.returncode == 1
    assert _errors(refused.stderr) == [
        f"error: {out}: --resume with other settings than the output was made with (score_thr 0.2 -> 0.3): "
        "resume with the same options, or write to a new output"
    ]

    resumed = _run("detect", photos, "-o", out, *ray, "--resume")
    assert resumed.returncode == 2, resumed.stderr
    assert "resuming:" in resumed.stderr
    assert_same_records(json.loads(out.read_text()), expected)  # every image once, in the local order
    assert not shard_folder(out).exists()


def test_without_ray_the_engine_says_how_to_install_it(tmp_path, photos):
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "garmentcli", "detect", str(photos), "-o", str(tmp_path / "x.json")]
    done = subprocess.run([*command, "--engine", "ray"], capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: --engine ray needs Ray, which is optional: pip install 'garmentkp[ray]' -c constraints.txt"
    ]
    assert not (tmp_path / "x.json").exists()


def test_object_store_uris_are_named_and_read_as_local_files(photos):
    """A ``file://`` URI goes through pyarrow's file system, as an ``s3://`` one would (no S3 here)."""
    local = expand_sources([str(photos)])
    remote = list_images([f"file://{photos}/"])
    assert [s.name for s in remote] == [s.name for s in local]
    rows = {
        "location": np.array([str(s.path) for s in remote[-3:]]),
        "shown": np.array([s.uri for s in remote[-3:]]),
        "filesystem": np.array([0, 0, 0]),
    }
    block = read_block(rows, [remote[-1].filesystem])
    np.testing.assert_array_equal(block["image"][0], read_image(local[-3].path))
    assert list(block["failure"][1:]) == [
        f"file://{photos}/{BAD[0]}: not a readable image (UnidentifiedImageError)",
        f"file://{photos}/{BAD[1]}: could not decode the image (corrupt or unsupported)",
    ]


def test_measure_on_ray_gives_the_local_table(cluster, photos):
    """Photos with a marker: detected, calibrated (in the workers, where the pixels are) and measured as locally,
    failures and warnings (markers too small to find, oblique photos) included."""
    root = photos.parent / "marked"
    marker = "aruco:4x4_50:0:8cm"
    made = _run("synth", root, "--count", 8, "--size", 512, "--marker", marker, "--workers", 1, "--seed", 5, "-q")
    assert made.returncode == 0, made.stderr
    (root / "image" / BAD[0]).write_text("not an image")
    measure = ["measure", root / "image", "--marker", marker]
    local = _run(*measure, "-o", root / "sizes_local.csv")
    ray = ["--engine", "ray", "--ray-address", cluster.address, "--ray-actors", 1]
    on_ray = _run(*measure, "-o", root / "sizes_ray.csv", *ray)
    assert (local.returncode, on_ray.returncode) == (2, 2), on_ray.stderr

    def said(stderr: str) -> list[str]:
        return sorted(line for line in stderr.splitlines() if line.startswith(("error:", "warning:")))

    assert said(on_ray.stderr) == said(local.stderr)
    assert f"error: {root / 'image' / BAD[0]}: not a readable image (UnidentifiedImageError)" in said(local.stderr)
    assert (root / "sizes_ray.csv").read_text() == (root / "sizes_local.csv").read_text()


def test_a_killed_worker_node_still_gives_every_image_once(cluster, photos):
    """The module's last test: it leaves the cluster without its worker node."""
    some = photos.parent / "to_kill"  # 40 images and the text file named .jpg
    some.mkdir()
    for image in [*sorted(p.name for p in photos.iterdir())[:40], BAD[0]]:
        (some / image).write_bytes((photos / image).read_bytes())
    out = photos.parent / "killed.jsonl"
    # flip and refine make the run long enough (four passes an image) to kill the worker in the middle
    run = _garmentkp(
        "detect", some, "-o", out, "--flip", "--refine", "--engine", "ray", "--ray-address", cluster.address,
        "--ray-actors", 2,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # a loaded machine starts Ray slowly
        while not list(shard_folder(out).glob("block-*.jsonl")) and run.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert run.poll() is None, run.communicate()[1]
        cluster.kill_worker()
        _, stderr = run.communicate(timeout=300)
    finally:
        run.kill()
    assert run.returncode == 2, stderr
    names = [record.file_name for record in read_jsonl(out)]
    readable = sorted(s.name for s in expand_sources([str(some)]) if s.name not in BAD)
    assert sorted(names) == readable  # each exactly once
