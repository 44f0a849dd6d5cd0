"""The network: default size, head shapes at stride 4, config validation, batch-norm folding."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models_tiny import TINY_CONFIG, vary_batch_norms  # noqa: E402

from garmentcli.errors import SchemaError  # noqa: E402
from garmentcli.models.config import HEAD_NAMES, SCRATCH_BACKBONE, ModelConfig  # noqa: E402
from garmentcli.models.layers import fuse_batch_norm  # noqa: E402
from garmentcli.models.network import (  # noqa: E402
    InferenceNetwork,
    build_network,
    count_parameters,
    head_channels,
)


def test_default_network_is_efficientnet_lite0_with_3_to_5_million_parameters():
    network = build_network()
    assert network.config.backbone == "efficientnet-lite0"
    assert network.backbone.channels == [24, 40, 112, 320]
    assert 3_000_000 <= count_parameters(network) <= 5_000_000


def test_the_from_scratch_backbone_is_still_built_and_old_configs_name_it():
    config = ModelConfig(backbone=SCRATCH_BACKBONE)
    assert 3_000_000 <= count_parameters(build_network(config)) <= 5_000_000
    legacy = {k: v for k, v in config.to_dict().items() if k != "backbone"}
    assert ModelConfig.from_dict(legacy).backbone == SCRATCH_BACKBONE
    with pytest.raises(SchemaError, match="ModelConfig.backbone: Input should be"):
        ModelConfig(backbone="resnet50")


@pytest.mark.parametrize("variant", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_efficientnet_lite_features_at_strides_4_to_32(variant):
    network = build_network(ModelConfig(input_size=64, backbone=variant, neck_channels=16, head_channels=16)).eval()
    with torch.inference_mode():
        features = network.backbone(torch.zeros(1, 3, 64, 64))
    assert [f.shape[-1] for f in features] == [16, 8, 4, 2]
    assert [f.shape[1] for f in features] == network.backbone.channels
    assert len(network.backbone.stages()) == 5


def test_heads_are_at_stride_4_with_the_documented_channels():
    network = build_network(TINY_CONFIG).eval()
    outputs = network(torch.rand(2, 3, 64, 64) * 255)
    assert list(outputs) == list(HEAD_NAMES)
    channels = head_channels(TINY_CONFIG)
    assert channels == {
        "center_heatmap": 13,
        "center_offset": 2,
        "box_size": 2,
        "landmark_regression": 154,
        "landmark_heatmap": 77,
        "landmark_offset": 154,
    }
    for name, tensor in outputs.items():
        assert tuple(tensor.shape) == (2, channels[name], 16, 16)


def test_untrained_heatmaps_start_at_the_centernet_prior():
    with torch.inference_mode():
        (centre, *_rest) = InferenceNetwork(build_network(TINY_CONFIG).eval())(torch.full((1, 3, 64, 64), 120.0))
    assert float(centre.mean()) == pytest.approx(0.01, abs=0.01)


def test_config_round_trips_through_json_and_rejects_bad_values():
    config = ModelConfig(input_size=320, backbone=SCRATCH_BACKBONE, width=24, depth=(1, 1, 2, 1))
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(SchemaError, match="multiple of 32"):
        ModelConfig(input_size=100)
    with pytest.raises(SchemaError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({**config.to_dict(), "colour": 1})
    with pytest.raises(SchemaError, match="77"):
        ModelConfig(num_groups=62)


def test_folding_batch_norm_keeps_the_outputs():
    network = vary_batch_norms(build_network(TINY_CONFIG), mean=(-1, 1), var=(0.5, 2), weight=(0.5, 1.5)).eval()
    images = torch.rand(2, 3, 64, 64) * 255
    with torch.inference_mode():
        before = InferenceNetwork(network)(images)
        after = InferenceNetwork(fuse_batch_norm(copy.deepcopy(network)))(images)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fuse_batch_norm(network).modules())
