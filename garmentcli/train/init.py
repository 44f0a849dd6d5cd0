"""Starting a run from a trained model's weights (``garmentkp train --init MODEL``) instead of ImageNet's.

A checkpoint (``.pt``) is loaded as it is. An exported ONNX model (a bundled name such as ``photos``,
or a file) holds the deployed form, each batch norm folded into the convolution before it
(:func:`~garmentcli.models.layers.fuse_batch_norm`), so the training network is rebuilt from it:
every convolution gets the folded weights, and its batch norm is set to pass the convolution's
output through plus the folded bias. For that batch norm to also behave in training (where it
normalises by the batch's statistics), its running statistics and affine parameters come from
the convolution's outputs on a few training batches: with mean ``m`` and variance ``v``,
``running_mean = m``, ``running_var = v``, ``weight = sqrt(v + eps)``, ``bias = folded bias + m``,
which is exactly ``x + folded bias`` in evaluation and about the same on a training batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from garmentcli.choices import FLOAT32
from garmentcli.errors import InputError, require_torch
from garmentcli.models.config import KgdetConfig, ModelConfig
from garmentcli.models.layers import conv_bn_pairs
from garmentcli.models.registry import ModelFiles, resolve_model

torch = require_torch()

CALIBRATION_BATCHES = 8
"""Training batches whose convolution outputs set the rebuilt batch norms' statistics."""


def init_model(spec: str) -> ModelFiles:
    """The float model ``--init`` names (bundled or cached name, ``.onnx`` or ``.pt`` path), checked to be one
    whose weights a run can start from."""
    files = resolve_model(spec)
    if files.checkpoint is None and files.card.precision != FLOAT32:
        raise InputError(f"--init {spec}: an {files.card.precision} model; start from its float model")
    if files.checkpoint is None and not isinstance(files.card.config, ModelConfig):
        config = files.card.config
        kind = "top-down" if files.card.is_topdown else "kgdet" if isinstance(config, KgdetConfig) else "two-stage"
        raise InputError(f"--init {spec}: an exported {kind} model; start from its training checkpoint (.pt)")
    return files


def load_init_weights(network: Any, files: ModelFiles, batches: Iterable[Any]) -> None:
    """Give ``network`` (built from ``files.card.config``) the weights of ``files``; ``batches`` yields training
    ``(images, targets)`` for an ONNX model's batch-norm statistics."""
    if files.checkpoint is not None:
        from garmentcli.models.checkpoint import network_from_checkpoint

        trained, _, _ = network_from_checkpoint(files.checkpoint)
        network.load_state_dict(trained.state_dict())
        return
    from garmentcli.models.export import load_onnx_weights
    from garmentcli.models.network import build_network

    assert files.onnx is not None
    folded = load_onnx_weights(build_network(files.card.config), files.onnx).network
    _unfold(network, folded)
    _calibrate(network, batches)


def _unfold(network: Any, folded: Any) -> None:
    """Copy the folded network's weights into ``network``; each batch norm of a pair becomes ``x + bias``."""
    names = {id(module): name for name, module in network.named_modules()}
    folded_modules = dict(folded.named_modules())
    folded_state = folded.state_dict()
    state = network.state_dict()
    done: set[str] = set()
    with torch.no_grad():
        for sequential, i in conv_bn_pairs(network):
            prefix = f"{names[id(sequential)]}.{i}"
            conv = folded_modules[prefix]
            norm = sequential[i + 1]
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
            norm.weight.fill_(1.0)
            norm.bias.copy_(conv.bias)
            sequential[i].weight.copy_(conv.weight)
            done |= {f"{prefix}.weight"} | {f"{names[id(sequential)]}.{i + 1}.{key}" for key in norm.state_dict()}
        for key, value in state.items():
            if key in done:
                continue
            if key not in folded_state or folded_state[key].shape != value.shape:
                raise InputError(f"--init: the model's weights have no {key} of shape {tuple(value.shape)}")
            value.copy_(folded_state[key])


def _calibrate(network: Any, batches: Iterable[Any]) -> None:
    """Set each paired batch norm's statistics from its convolution's outputs, keeping the evaluated function."""
    pairs = conv_bn_pairs(network)
    sums: dict[int, list[Any]] = {}

    def hook(index: int) -> Any:
        def record(_module: Any, _inputs: Any, output: Any) -> None:
            flat = output.detach().double().transpose(0, 1).reshape(output.shape[1], -1)
            total = sums.setdefault(index, [0.0, 0.0, 0])
            total[0] = total[0] + flat.sum(1)
            total[1] = total[1] + (flat * flat).sum(1)
            total[2] += flat.shape[1]

        return record

    handles = [sequential[i].register_forward_hook(hook(k)) for k, (sequential, i) in enumerate(pairs)]
    network.eval()
    try:
        with torch.inference_mode():
            for count, (images, _) in enumerate(batches):
                if count == CALIBRATION_BATCHES:
                    break
                network(images.float())
    finally:
        for handle in handles:
            handle.remove()
    if len(sums) != len(pairs):
        raise InputError("--init: no training batch to set the batch-norm statistics from")
    with torch.no_grad():
        for k, (sequential, i) in enumerate(pairs):
            total, squares, count = sums[k]
            mean = total / count
            var = (squares / count - mean * mean).clamp(min=0.0)
            norm = sequential[i + 1]
            norm.bias.add_(mean.to(norm.bias.dtype))
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.weight.copy_((var + norm.eps).sqrt())
