"""Cost of every model family at its default shape: parameters and GFLOPs per input (docs/models.md).

Each family's network is built from its default config (random weights: the cost does not depend on them)
and run once on one input under :class:`torch.utils.flop_counter.FlopCounterMode` (FLOPs = 2 x multiply-adds,
convolutions and matrix products); the deployed module is what is counted, as ``detect`` runs it. A family whose
dependencies do not import here (the two-stage detectors need a torchvision matching torch) is listed with
the reason.

    python benchmarks/bench_models.py
"""

from __future__ import annotations

import json
import sys

import torch
from torch.utils.flop_counter import FlopCounterMode

from garmentcli.errors import MissingDependencyError
from garmentcli.models.checkpoint import build_any
from garmentcli.models.config import CropConfig
from garmentcli.models.export import inference_module
from garmentcli.models.network import count_parameters
from garmentcli.train.families import FAMILY_NAMES, family


def cost(name: str) -> dict[str, object]:
    """Parameters and GFLOPs of one input for the family ``--arch name`` calls, at its default config."""
    config = family(FAMILY_NAMES[name]).config_type()
    if isinstance(config, CropConfig):
        shape, size = (1, 3, config.input_height, config.input_width), f"{config.input_width} x {config.input_height}"
    else:
        shape, size = (1, 3, config.input_size, config.input_size), f"{config.input_size} x {config.input_size}"
    network = build_any(config).eval()
    module = network if name == "classifier" else inference_module(network).eval()
    inputs = [torch.rand(shape) * 255]
    if getattr(config, "heads", ()):  # a per-group top-down model also takes each crop's category id
        inputs.append(torch.ones(1, dtype=torch.int64))
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(*inputs)
    return {
        "family": name,
        "input": size,
        "parameters_M": round(count_parameters(network) / 1e6, 2),
        "GFLOPs": round(counter.get_total_flops() / 1e9, 2),
    }


def main() -> None:
    rows = []
    for name in FAMILY_NAMES:
        try:
            rows.append(cost(name))
        except MissingDependencyError as exc:  # a family that cannot be built here is reported, not fatal
            rows.append({"family": name, "error": str(exc).splitlines()[0]})
    print("| family | input | parameters | GFLOPs |")
    print("|---|---|---:|---:|")
    for row in rows:
        if "error" in row:
            print(f"| {row['family']} | – | – | not built here: {row['error']} |")
        else:
            print(f"| {row['family']} | {row['input']} | {row['parameters_M']} M | {row['GFLOPs']} |")
    json.dump(rows, sys.stderr, indent=1)


if __name__ == "__main__":
    main()
