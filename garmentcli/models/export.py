"""Turn a network (trained checkpoint or fresh) into a deployable ONNX file + card, checked against torch."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from garmentcli.errors import InputError, require_torch
from garmentcli.models.card import ModelCard
from garmentcli.models.config import (
    CATEGORY_INPUT,
    HEAD_NAMES,
    ClassifierConfig,
    CropConfig,
    CspnConfig,
    FasterRcnnConfig,
    KgdetConfig,
    TopDownConfig,
    output_names,
    takes_categories,
)
from garmentcli.models.layers import fuse_batch_norm
from garmentcli.models.network import InferenceNetwork, count_parameters
from garmentcli.models.registry import write_model
from garmentcli.schema.layout import DF2

OPSET = 17
INPUT_NAME = "images"
EXPORT_TOLERANCE = 1e-3
"""Largest allowed |onnxruntime - torch| relative to the output's magnitude (at least 1)."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    card: ModelCard
    max_abs_diff: float


def inference_module(network: Any) -> Any:
    """The module whose outputs (a tuple, in :func:`~garmentcli.models.config.output_names` order) are the deployed
    graph's: a detector through :class:`InferenceNetwork` (heatmaps through the sigmoid), the RTFPose model as it is
    (SimCC logits), CSPN through :class:`~garmentcli.models.cspn.CspnInference` (the last stage's heatmaps), a
    two-stage detector through :class:`~garmentcli.models.rcnn.RcnnInference` (padded detections), KGDet through
    :class:`~garmentcli.models.kgdet.KgdetInference` (the last stage, input pixels). Its mode is left as it is."""
    if isinstance(network.config, TopDownConfig):
        return network
    if isinstance(network.config, CspnConfig):
        from garmentcli.models.cspn import CspnInference

        return CspnInference(network)
    if isinstance(network.config, FasterRcnnConfig):
        from garmentcli.models.rcnn import RcnnInference

        return RcnnInference(network)
    if isinstance(network.config, KgdetConfig):
        from garmentcli.models.kgdet import KgdetInference

        return KgdetInference(network)
    return InferenceNetwork(network)


def deployed_module(network: Any) -> Any:
    """:func:`inference_module` in eval mode: what export and the in-memory top-down runner run."""
    return inference_module(network).eval()


def opset_of(config: Any) -> int:
    """The ONNX opset a model is exported with: :data:`OPSET`, or ``DeformConv``'s for KGDet's deformable
    convolutions."""
    if isinstance(config, KgdetConfig):
        from garmentcli.models.deform import DEFORM_CONV_OPSET

        return DEFORM_CONV_OPSET
    return OPSET


def check_inputs(config: Any, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The graph inputs, by name, that export checks against torch: a random batch of images (of crops, for a
    top-down model) and, for a per-group model, category ids that visit every category (at least one batch of
    13, so that every head is checked)."""
    if isinstance(config, CropConfig):
        height, width = config.input_height, config.input_width
    else:
        height = width = config.input_size
    grouped = takes_categories(config)
    count = max(batch, len(DF2.categories)) if grouped else batch
    rng = np.random.default_rng(seed)
    inputs = {INPUT_NAME: rng.uniform(0, 255, (count, 3, height, width)).astype(np.float32)}
    if grouped:
        inputs[CATEGORY_INPUT] = np.resize(np.array(DF2.ids, dtype=np.int64), count)
    return inputs


def max_output_difference(
    session: ort.InferenceSession,
    reference: Any,
    inputs: dict[str, np.ndarray],
    names: Sequence[str] = HEAD_NAMES,
) -> tuple[float, float]:
    """Largest |onnxruntime - torch| over all outputs of the ``reference`` module (the network before its batch
    norms were folded, so the folding is checked too) on the graph ``inputs`` (by name, in the graph's order),
    and the largest |torch| output (for a relative bound)."""
    torch = require_torch()
    with torch.inference_mode():
        expected = [t.numpy() for t in reference(*(torch.from_numpy(x) for x in inputs.values()))]
    produced = session.run(list(names), inputs)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(produced, expected, strict=True))
    return diff, max(float(np.abs(r).max()) for r in expected)


def export_onnx(network: Any, card: ModelCard, path: Path, check_batch: int = 2, seed: int = 0) -> ExportResult:
    """Write ``path`` (ONNX, dynamic batch, batch norm folded, card in the metadata) and ``path.json``.

    The graph is run with onnxruntime on a random batch (:func:`check_inputs`) and compared with torch; an
    :class:`InputError` is raised when they disagree beyond :data:`EXPORT_TOLERANCE`. A two-stage detector's
    graph takes one image (its per-image post-processing is unrolled when traced; the onnx backend feeds it
    a batch image by image).
    """
    torch = require_torch()
    import onnx

    config = network.config
    if isinstance(config, ClassifierConfig):
        raise InputError(
            f"{path}: a garment classifier is not exported; graft its checkpoint onto a detector "
            "(garmentkp train --arch fasterrcnn --graft CHECKPOINT)"
        )
    graph_module = deployed_module(fuse_batch_norm(copy.deepcopy(network).cpu()))
    single = isinstance(config, FasterRcnnConfig)
    names = output_names(config)
    opset = opset_of(config)
    inputs = check_inputs(config, 1 if single else check_batch, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            graph_module,
            tuple(torch.from_numpy(x) for x in inputs.values()),
            str(tmp),
            dynamo=False,
            opset_version=opset,
            input_names=list(inputs),
            output_names=list(names),
            dynamic_axes=None if single else {name: {0: "batch"} for name in (*inputs, *names)},
        )
    card.parameters = count_parameters(network)
    card.export = {**card.export, "opset": opset, "torch": torch.__version__}
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    diff, scale = max_output_difference(session, deployed_module(network), inputs, names)
    card.export["max_abs_diff"] = diff
    if diff > EXPORT_TOLERANCE * max(1.0, scale):
        tmp.unlink()
        raise InputError(f"{path}: exported graph differs from torch by {diff:.3g} (allowed {EXPORT_TOLERANCE:g})")
    graph = onnx.load(str(tmp))
    tmp.unlink()
    write_model(graph, card, path)
    return ExportResult(path, card, diff)


def _convolutions_in_run_order(network: Any, input_size: int) -> list[Any]:
    """The network's convolutions in the order a forward pass runs them (the order of the ONNX Conv nodes)."""
    torch = require_torch()
    order: list[Any] = []
    hooks = [
        m.register_forward_hook(lambda m, *_: order.append(m))
        for m in network.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.inference_mode():
        network(torch.zeros(1, 3, input_size, input_size))
    for hook in hooks:
        hook.remove()
    return order


def _initializers(graph: Any) -> dict[str, np.ndarray]:
    """An ONNX graph's initializers by name, the names the exporter aliases through Identity nodes included (it
    stores identical tensors once)."""
    from onnx import numpy_helper

    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    tensors.update(
        {n.output[0]: tensors[n.input[0]] for n in graph.node if n.op_type == "Identity" and n.input[0] in tensors}
    )
    return tensors


def _load_parameters_by_name(deployed: Any, tensors: dict[str, np.ndarray], path: Path) -> Any:
    """Every parameter of the deployed (folded) KGDet module that its graph uses from the initializer of its name
    (:meth:`~garmentcli.models.kgdet.KgdetNet.training_only` names those it does not)."""
    torch = require_torch()
    unused = {f"network.{name}" for name in deployed.network.training_only()}
    with torch.no_grad():
        for name, parameter in deployed.named_parameters():
            if name in unused:
                continue
            value = tensors.get(name)
            if value is None or value.shape != tuple(parameter.shape):
                raise InputError(f"{path}: ONNX weights do not match the card's architecture at {name}")
            parameter.copy_(torch.from_numpy(value.copy()))
    return deployed


def load_onnx_weights(network: Any, path: Path) -> Any:
    """Load the weights of an exported ONNX file into ``network`` (built from the card's config); deployed form.

    The ONNX Conv nodes are matched, in graph order, with the fused network's convolutions in run
    order (names alone are not enough: the exporter merges identical initializers), so the torch backend runs the
    very weights onnxruntime runs. A KGDet graph, whose convolutions are not all Conv nodes, is loaded by parameter
    name (aliases resolved).
    """
    torch = require_torch()
    import onnx

    deployed = inference_module(fuse_batch_norm(network)).eval()
    graph = onnx.load(str(path)).graph
    tensors = _initializers(graph)
    if isinstance(network.config, KgdetConfig):
        return _load_parameters_by_name(deployed, tensors, path)
    nodes = [node for node in graph.node if node.op_type == "Conv"]
    convs = _convolutions_in_run_order(deployed, network.config.input_size)
    if len(nodes) != len(convs):
        raise InputError(f"{path}: {len(nodes)} convolutions, the card's architecture has {len(convs)}")
    with torch.no_grad():
        for node, conv in zip(nodes, convs, strict=True):
            weight, bias = (tensors.get(name) for name in node.input[1:3])
            if weight is None or bias is None or weight.shape != tuple(conv.weight.shape):
                raise InputError(f"{path}: ONNX weights do not match the card's architecture at {node.name}")
            conv.weight.copy_(torch.from_numpy(weight.copy()))
            conv.bias.copy_(torch.from_numpy(bias.copy()))
    return deployed
