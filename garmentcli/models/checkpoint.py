"""Checkpoints: everything a training run needs to continue exactly where it stopped, and its network.

Below both ``train`` (which writes and resumes them) and ``models`` (export, the registry and the
torch backend read them), so neither imports the other.

A checkpoint holds the model, optimiser, scheduler and gradient-scaler states, the number of
finished epochs and optimiser steps, the model config and training options, the metric
history and the best validation score so far, and torch's random-number states. Nothing but
tensors and plain Python values is stored, so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garmentcli.errors import InputError, require_torch
from garmentcli.io.atomic import atomic_write
from garmentcli.models.config import (
    AnyConfig,
    ClassifierConfig,
    CspnConfig,
    FasterRcnnConfig,
    KgdetConfig,
    TopDownConfig,
    config_type,
)

FORMAT_VERSION = 1


def rng_state() -> dict[str, Any]:
    """torch's CPU (and, when present, CUDA) generator states."""
    torch = require_torch()
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch = require_torch()
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format version and RNG states) atomically to ``path``."""
    torch = require_torch()
    with atomic_write(path, "wb") as handle:
        torch.save({"format_version": FORMAT_VERSION, "rng": rng_state(), **state}, handle)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU; one-line :class:`InputError` when it is missing or not ours."""
    torch = require_torch()
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign pickles
        raise InputError(f"{path}: not a readable garmentkp checkpoint ({type(exc).__name__})") from exc
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: not a garmentkp training checkpoint (format {FORMAT_VERSION})")
    return state


def build_any(config: AnyConfig) -> Any:
    """A fresh network of any family, by its config's type."""
    if isinstance(config, FasterRcnnConfig):
        from garmentcli.models.rcnn import build_rcnn

        return build_rcnn(config)
    if isinstance(config, ClassifierConfig):
        from garmentcli.models.classifier import build_classifier

        return build_classifier(config)
    if isinstance(config, TopDownConfig):
        from garmentcli.models.topdown import build_topdown

        return build_topdown(config)
    if isinstance(config, CspnConfig):
        from garmentcli.models.cspn import build_cspn

        return build_cspn(config)
    if isinstance(config, KgdetConfig):
        from garmentcli.models.kgdet import build_kgdet

        return build_kgdet(config)
    from garmentcli.models.network import build_network

    return build_network(config)


def stored_config(state: dict[str, Any]) -> AnyConfig:
    """The network config of a checkpoint's state, of the class its ``architecture`` names (a detector's without)."""
    return config_type(state.get("architecture")).from_dict(state["config"])


def network_from_checkpoint(path: Path) -> tuple[Any, AnyConfig, dict[str, Any]]:
    """The network of a training checkpoint (``garmentkp train``'s ``last.pt``/``best.pt``), its config and state:
    a detector, or a top-down landmark model when the checkpoint says so (``architecture``)."""
    state = load_checkpoint(path)
    config = stored_config(state)
    network = build_any(config)
    try:
        network.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise InputError(f"{path}: weights do not fit the stored config ({str(exc).splitlines()[0]})") from exc
    return network.eval(), config, state
