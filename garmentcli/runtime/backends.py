"""One :class:`Backend` protocol, one small class per runtime; :data:`BACKENDS` picks one by name.

Every backend takes the float32 ``(B, 3, H, W)`` batch (letterboxed images, or garment crops for a top-down
model) and returns the deployed graph's outputs as numpy arrays by name (a detector's heads with the heatmaps
already through the sigmoid; a top-down model's SimCC logits).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from garmentcli.choices import DEVICES, FLOAT32
from garmentcli.errors import InputError, MissingDependencyError, require_torch
from garmentcli.models.config import FasterRcnnConfig, output_names
from garmentcli.models.registry import ModelFiles


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise InputError(f"unknown device {device!r} ({' or '.join(DEVICES)})")


class Backend(Protocol):
    name: str
    device: str

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]: ...


def cpu_threads() -> int:
    """Threads for inference: ``$GARMENTKP_THREADS`` or the CPUs this process may use."""
    override = os.environ.get("GARMENTKP_THREADS")
    return int(override) if override else len(os.sched_getaffinity(0))


class OnnxBackend:
    """onnxruntime: CPUExecutionProvider, or CUDAExecutionProvider when ``device="cuda"`` (onnxruntime-gpu)."""

    name = "onnx"

    def __init__(self, model: ModelFiles, device: str = "cpu") -> None:
        import onnxruntime as ort  # imported on use: every command loads this module, few run a network

        if model.onnx is None:
            raise InputError(f"{model.checkpoint}: the onnx backend needs an .onnx model (garmentkp export)")
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise MissingDependencyError("--device cuda with onnxruntime needs onnxruntime-gpu and a CUDA GPU")
            providers.insert(0, "CUDAExecutionProvider")
        else:
            check_device(device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting between operators: the image-decoding threads need those cycles
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(model.onnx), options, providers=providers)
        except Exception as exc:  # onnxruntime's own exception types
            raise InputError(f"{model.onnx}: onnxruntime cannot load it ({type(exc).__name__})") from exc
        self.device = device
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        self.single_image = graph_input.shape[0] == 1
        """A graph of one image at a time (the two-stage detectors'): a batch is run image by image."""
        self.outputs = output_names(model.card.config)

    def run(self, images: np.ndarray, extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """The graph's outputs for ``images`` (and the graph's ``extra`` inputs by name, if it has any)."""
        if self.single_image and len(images) != 1:
            each = [
                self.run(images[i : i + 1], {k: v[i : i + 1] for k, v in (extra or {}).items()})
                for i in range(len(images))
            ]
            return {name: np.concatenate([e[name] for e in each]) for name in self.outputs}
        outputs = self.session.run(list(self.outputs), {self.input_name: images, **(extra or {})})
        return dict(zip(self.outputs, outputs, strict=True))


class TorchModuleBackend:
    """An in-memory torch network, run through the deployed graph's module
    (:func:`~garmentcli.models.export.deployed_module`: the one-stage detector's heatmaps through the sigmoid, KGDet's
    last stage in input pixels, the two-stage detectors' padded detections), so what it returns is what the exported
    model returns. Training's validation runs the network being trained this way.

    Each call runs in inference mode with the network in eval mode, and leaves its mode as it was.
    """

    name = "torch"

    def __init__(self, network: Any, device: Any = "cpu") -> None:
        torch = require_torch()

        self.torch = torch
        self.network: Any = network
        self.outputs = output_names(network.config)
        self.device = str(device)
        self._device = torch.device(device)

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        from garmentcli.models.export import deployed_module

        training = self.network.training
        try:
            with self.torch.inference_mode():
                outputs = deployed_module(self.network)(self.torch.from_numpy(images).to(self._device))
        finally:
            self.network.train(training)
        return {name: out.float().cpu().numpy() for name, out in zip(self.outputs, outputs, strict=True)}


class TorchBackend(TorchModuleBackend):
    """PyTorch on CPU or CUDA, running the weights of the ONNX file (or of a ``.pt`` training checkpoint)."""

    def __init__(self, model: ModelFiles, device: str = "cpu") -> None:
        torch = require_torch()
        from garmentcli.models.checkpoint import build_any, network_from_checkpoint
        from garmentcli.models.export import load_onnx_weights

        if model.card.precision != FLOAT32:
            raise InputError(f"{model.name}: an {model.card.precision} model runs on onnxruntime only (--backend onnx)")
        if device == "cuda" and not torch.cuda.is_available():
            raise MissingDependencyError("--device cuda with torch needs a CUDA build of torch and a GPU")
        check_device(device)
        torch.set_num_threads(cpu_threads())
        if model.onnx is not None and isinstance(model.card.config, FasterRcnnConfig):
            raise InputError(
                f"{model.onnx}: the torch backend runs a two-stage detector from its training checkpoint (.pt); "
                "use --backend onnx for the exported graph"
            )
        if model.onnx is not None:
            network = load_onnx_weights(build_any(model.card.config), model.onnx).network
        else:
            network = network_from_checkpoint(model.checkpoint)[0]
        super().__init__(network.to(device).eval(), device)


BACKENDS: dict[str, type[OnnxBackend] | type[TorchBackend]] = {"onnx": OnnxBackend, "torch": TorchBackend}


def make_backend(name: str, model: ModelFiles, device: str = "cpu") -> Backend:
    """The backend called ``name`` for ``model`` on ``device``."""
    if name not in BACKENDS:
        raise InputError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    return BACKENDS[name](model, device)
