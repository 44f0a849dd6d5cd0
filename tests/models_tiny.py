"""A tiny randomly initialised model, exported on the fly, for the models/runtime/detect tests.

Its heads are adjusted so that an untrained network still reports garments: centre scores that
depend on the image (so garments rank without ties) and boxes of about 12 px.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from garmentcli.models.card import ModelCard
from garmentcli.models.config import SCRATCH_BACKBONE, ModelConfig

TINY_CONFIG = ModelConfig(
    input_size=64,
    backbone=SCRATCH_BACKBONE,
    width=8,
    depth=(1, 1, 1, 1),
    expansion=2,
    neck_channels=16,
    head_channels=16,
)


def vary_batch_norms(
    network: Any,
    mean: tuple[float, float] = (-0.05, 0.05),
    var: tuple[float, float] = (0.8, 1.25),
    weight: tuple[float, float] | None = None,
) -> Any:
    """Give every batch norm of ``network`` running statistics (and, with ``weight``, scales) drawn uniformly from
    these ranges, so that folding them into the convolutions is really tested."""
    import torch

    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(*mean)
                module.running_var.uniform_(*var)
                if weight is not None:
                    module.weight.uniform_(*weight)
    return network


def tiny_network(seed: int = 0) -> Any:
    """The tiny network in eval mode, with non-trivial batch-norm statistics (so folding them is tested)."""
    import torch

    from garmentcli.models.network import build_network

    torch.manual_seed(seed)
    network = build_network(TINY_CONFIG)
    with torch.no_grad():
        network.heads["center_heatmap"][-1].weight.mul_(40)
        network.heads["center_heatmap"][-1].bias.fill_(0.0)
        network.heads["box_size"][-1].bias.fill_(3.0)
    return vary_batch_norms(network).eval()


def export_tiny_model(folder: Path, name: str = "tiny", seed: int = 0) -> Path:
    """Write ``folder/name.onnx`` + ``name.json`` and return the ONNX path."""
    from garmentcli.models.export import export_onnx

    path = folder / f"{name}.onnx"
    export_onnx(tiny_network(seed), ModelCard(name, TINY_CONFIG), path)
    return path


@functools.cache
def shared_tiny_model() -> Path:
    """One :func:`export_tiny_model` per test process (removed at exit), for tests that only read it."""
    folder = Path(tempfile.mkdtemp(prefix="garmentkp-tiny-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return export_tiny_model(folder)
