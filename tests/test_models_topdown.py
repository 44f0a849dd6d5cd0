"""The top-down landmark model's parts: SimCC targets and decoding, the RTFPose modules and their switches,
MECS's median pooling against numpy, and the network's ONNX graph against torch."""

from __future__ import annotations

import numpy as np
import pytest

from garmentcli.errors import SchemaError
from garmentcli.models.config import TopDownConfig
from garmentcli.models.simcc import SimccCodec

CODEC = SimccCodec(192, 256)


def test_simcc_targets_decode_back_to_the_exact_position():
    rng = np.random.default_rng(0)
    points = np.vstack([rng.uniform([0, 0], [191, 255], (200, 2)), [[0, 0], [191, 255], [0.3, 254.6], [95.5, 0.25]]])
    target_x, target_y, weight = CODEC.encode(points, np.ones(len(points), bool))
    assert target_x.shape == (len(points), 384) and target_y.shape == (len(points), 512)
    np.testing.assert_allclose(target_x.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(target_y.sum(1), 1, atol=1e-5)
    assert (weight == 1).all()
    decoded, score = CODEC.decode(np.log(target_x + 1e-30), np.log(target_y + 1e-30))
    assert np.abs(decoded - points).max() < 1e-3  # a Gaussian's log is a parabola: no quantisation to bins
    assert score.min() > 0.99


def test_simcc_weights_leave_out_unlabelled_landmarks_and_those_outside_the_crop():
    points = np.array([[10.0, 10.0], [-3.0, 10.0], [10.0, 256.5], [50.0, 60.0]])
    _, _, weight = CODEC.encode(points, np.array([True, True, True, False]))
    assert weight.tolist() == [1, 0, 0, 0]


def test_simcc_decoding_of_flat_and_shifted_predictions():
    logits_x = np.zeros((1, 2, 384))
    logits_x[0, 0, 100] = 8.0  # a spike: bin 100 is pixel 50, no neighbour to interpolate with
    logits_y = np.zeros((1, 2, 512))
    logits_y[0, 0, 40] = 8.0
    decoded, score = CODEC.decode(logits_x, logits_y)
    assert decoded[0, 0].tolist() == [50.0, 20.0]
    assert score[0, 1] < 0.05 < score[0, 0]  # a flat distribution is no landmark


def test_top_down_config_is_validated_and_round_trips():
    config = TopDownConfig(mecs=False, sigma=(3.0, 4.0))
    assert TopDownConfig.from_dict(config.to_dict()) == config
    with pytest.raises(SchemaError, match="multiples of 32"):
        TopDownConfig(input_width=200)
    with pytest.raises(SchemaError, match="unknown top-down config keys: depth"):
        TopDownConfig.from_dict({"depth": 3})


torch = pytest.importorskip("torch")


def test_lower_median_pooling_equals_numpy():
    from garmentcli.models.topdown import MedianEnhancedAttention

    rng = np.random.default_rng(1)
    for height, width in ((5, 3), (4, 6)):  # an odd and an even count of positions
        x = rng.normal(size=(2, 7, height, width)).astype(np.float32)
        _, _, median = MedianEnhancedAttention.channel_pools(torch.from_numpy(x))
        flat = x.reshape(2, 7, -1)
        expected = np.median(flat, axis=2) if flat.shape[2] % 2 else np.quantile(flat, 0.5, axis=2, method="lower")
        np.testing.assert_array_equal(median[..., 0, 0].numpy(), expected)
        spatial = MedianEnhancedAttention.spatial_pools(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(spatial[:, 0], x.mean(1), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(spatial[:, 1], x.max(1))
        np.testing.assert_array_equal(spatial[:, 2], np.median(x, axis=1))  # 7 channels: odd


@pytest.mark.parametrize(
    "switches, modules",
    [
        ({}, {"MedianEnhancedAttention", "CrossScaleFusion", "SelfAttention"}),
        ({"mecs": False}, {"CrossScaleFusion", "SelfAttention"}),
        ({"csff": False}, {"MedianEnhancedAttention", "SelfAttention"}),
        ({"safe": False}, {"MedianEnhancedAttention", "CrossScaleFusion"}),
        ({"mecs": False, "csff": False, "safe": False}, set()),
    ],
)
def test_each_module_switches_and_the_outputs_keep_their_shape(switches, modules):
    from garmentcli.models.topdown import build_topdown

    network = build_topdown(TopDownConfig(input_width=64, input_height=96, **switches)).eval()
    present = {type(m).__name__ for m in network.modules()} & {
        "MedianEnhancedAttention",
        "CrossScaleFusion",
        "SelfAttention",
    }
    assert present == modules
    with torch.inference_mode():
        logits_x, logits_y = network(torch.rand(2, 3, 96, 64) * 255)
    assert logits_x.shape == (2, 77, 128) and logits_y.shape == (2, 77, 192)
    stride = 32 if switches.get("csff") is False else 16
    assert network.head.hidden[0].in_features == (64 // stride) * (96 // stride)


def test_the_attention_modules_change_the_features_once_trained():
    from garmentcli.models.topdown import MedianEnhancedAttention, SelfAttention

    x = torch.randn(2, 16, 6, 4)
    safe = SelfAttention(16)
    assert torch.equal(safe(x), x)  # starts as the identity (gamma 0) ...
    with torch.no_grad():
        safe.gamma.fill_(0.5)
    assert not torch.allclose(safe(x), x)  # ... and reweights positions once gamma moves
    attended = MedianEnhancedAttention(16)(x)
    assert attended.shape == x.shape and (attended.abs() <= x.abs() + 1e-6).all()  # weights are in (0, 1)


def test_onnx_graph_matches_torch():
    import onnxruntime as ort

    from garmentcli.models.topdown import build_topdown

    network = build_topdown(TopDownConfig(input_width=64, input_height=96)).eval()
    with torch.no_grad():
        network.self_attention.gamma.fill_(0.3)  # SAFE's path in the graph counts too
    crops = torch.rand(3, 3, 96, 64) * 255
    path = _export(network, crops)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    produced = session.run(None, {"crops": crops.numpy()})
    with torch.inference_mode():
        reference = [t.numpy() for t in network(crops)]
    for a, b in zip(produced, reference, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def _export(network, crops):
    import tempfile
    import warnings
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "topdown.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            crops,
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["crops"],
            output_names=["simcc_x", "simcc_y"],
            dynamic_axes={"crops": {0: "batch"}},
        )
    return path
