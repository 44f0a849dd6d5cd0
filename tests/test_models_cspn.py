"""The CSPN top-down landmark model's parts: heatmap targets and decoding, online hard landmark mining against
numpy, the cascade's outputs, its config and card, and its ONNX graph against torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from garmentcli.errors import SchemaError
from garmentcli.models.card import ModelCard
from garmentcli.models.config import CSPN_ARCHITECTURE, CspnConfig, config_type, output_names
from garmentcli.models.heatmap import HeatmapCodec

CODEC = HeatmapCodec(192, 256, stride=4, sigma=2.0)
TINY = CspnConfig(input_width=64, input_height=96, channels=16, stages=2)


def test_heatmap_targets_decode_back_to_the_exact_position():
    rng = np.random.default_rng(0)
    edges = [[0, 0], [191, 255], [0.3, 254.6], [95.5, 0.25], [1.5, 1.5]]
    points = np.vstack([rng.uniform([0, 0], [191, 255], (200, 2)), edges])
    heatmaps, weight = CODEC.encode(points, np.ones(len(points), bool))
    assert heatmaps.shape == (len(points), 64, 48) and (weight == 1).all()
    decoded, score = CODEC.decode(heatmaps)
    assert np.abs(decoded - points).max() < 1e-3  # a Gaussian's log is a parabola: no quantisation to cells
    assert score.min() > 0.9  # the peak of a target between cells is a little under 1
    batched, _ = CODEC.decode(heatmaps.reshape(5, 41, 64, 48))  # any leading axes
    np.testing.assert_array_equal(batched.reshape(-1, 2), decoded)


def test_heatmap_cells_are_centred_in_the_pixels_they_cover():
    heatmaps, _ = CODEC.encode(np.array([[1.5, 1.5], [189.5, 253.5]]), np.ones(2, bool))
    assert heatmaps[0, 0, 0] == pytest.approx(1.0) and heatmaps[1, 63, 47] == pytest.approx(1.0)
    np.testing.assert_allclose(CODEC.to_pixels(CODEC.to_cells([[7.25, 100.0]])), [[7.25, 100.0]])


def test_heatmap_weights_leave_out_unlabelled_landmarks_and_those_outside_the_crop():
    points = np.array([[10.0, 10.0], [-3.0, 10.0], [10.0, 256.5], [50.0, 60.0]])
    heatmaps, weight = CODEC.encode(points, np.array([True, True, True, False]))
    assert weight.tolist() == [1, 0, 0, 0]
    assert heatmaps[0].max() > 0.9 and not heatmaps[1:].any()  # nothing to learn from where it does not count


def test_heatmap_decoding_of_a_spike_and_of_an_empty_map():
    heatmaps = np.zeros((2, 24, 16))
    heatmaps[0, 5, 3] = 0.7  # a spike: no slope on either side to interpolate
    heatmaps[1] = -0.01  # an empty (regressed, slightly negative) map
    decoded, score = HeatmapCodec(64, 96).decode(heatmaps)
    assert decoded[0].tolist() == [3 * 4 + 1.5, 5 * 4 + 1.5] and score.tolist() == [pytest.approx(0.7), 0.0]


def test_cspn_config_is_validated_round_trips_and_names_its_card():
    assert CspnConfig.from_dict(TINY.to_dict()) == TINY
    assert config_type(CSPN_ARCHITECTURE) is CspnConfig and output_names(TINY) == ("heatmaps",)
    card = ModelCard.from_dict(ModelCard("tiny-cspn", TINY).to_dict())
    assert card.architecture == CSPN_ARCHITECTURE and card.config == TINY and card.is_topdown
    assert card.input_text == "64x96px"
    with pytest.raises(SchemaError, match="multiples of 32"):
        CspnConfig(input_height=100)
    with pytest.raises(SchemaError, match="unknown cspn config keys: mecs"):
        CspnConfig.from_dict({"mecs": True})
    with pytest.raises(SchemaError, match="CspnConfig.stages"):
        CspnConfig(stages=0)


torch = pytest.importorskip("torch")

from garmentcli.train.losses import cspn_losses, hardest_landmarks  # noqa: E402


def _hardest_oracle(errors: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    """numpy: in each row, the ``k`` largest errors among the counted landmarks (all when fewer)."""
    mask = np.zeros_like(errors)
    for row, (error, counted) in enumerate(zip(errors, weight > 0, strict=True)):
        candidates = np.flatnonzero(counted)
        mask[row, candidates[np.argsort(-error[candidates])[:k]]] = 1
    return mask


def test_hard_landmark_mining_picks_exactly_the_k_largest_of_each_garment():
    rng = np.random.default_rng(3)
    errors = rng.uniform(0, 1, (12, 30)).astype(np.float32)
    weight = (rng.uniform(size=(12, 30)) < 0.4).astype(np.float32)
    weight[0] = 0  # nothing labelled
    weight[1] = 0
    weight[1, [4, 9]] = 1  # fewer labelled than K
    errors[2] = 0.5  # ties in a row still give K
    errors[3, weight[3] == 0] = 10  # the largest errors are on landmarks that do not count
    for k in (1, 4, 7):
        mask = hardest_landmarks(torch.from_numpy(errors), torch.from_numpy(weight), k).numpy()
        expected = _hardest_oracle(errors, weight, k)
        np.testing.assert_array_equal(mask[errors[:, 0] != 0.5], expected[errors[:, 0] != 0.5])
        np.testing.assert_array_equal(mask.sum(1), np.minimum(weight.sum(1), k))
        assert not (mask * (1 - weight)).any()
    assert mask[1].tolist() == weight[1].tolist() and not mask[0].any()


def test_stage_one_learns_from_every_landmark_and_the_later_stages_from_the_hardest():
    rng = np.random.default_rng(4)
    target = rng.uniform(0, 1, (3, 10, 6, 5)).astype(np.float32)
    weight = (rng.uniform(size=(3, 10)) < 0.7).astype(np.float32)
    stages = [rng.normal(size=target.shape).astype(np.float32) for _ in range(3)]
    terms = cspn_losses(
        [torch.from_numpy(s) for s in stages],
        {"heatmaps": torch.from_numpy(target), "weight": torch.from_numpy(weight)},
    )
    for stage, prediction in enumerate(stages, 1):
        errors = ((prediction - target) ** 2).mean(axis=(2, 3))
        chosen = weight if stage == 1 else _hardest_oracle(errors, weight, 4)
        expected = (errors * chosen).sum() / chosen.sum()
        assert float(terms[f"loss_stage{stage}"]) == pytest.approx(expected, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(sum(float(terms[f"loss_stage{s}"]) for s in (1, 2, 3)))


def test_the_cascade_gives_every_stage_one_heatmap_per_group_at_a_quarter_of_the_crop():
    from garmentcli.models.cspn import CascadeStage, CspnInference, build_cspn

    torch.manual_seed(0)
    network = build_cspn(CspnConfig(input_width=64, input_height=96, channels=16)).eval()
    assert sum(isinstance(m, CascadeStage) for m in network.modules()) == 3  # four stages: the first and three more
    crops = torch.rand(2, 3, 96, 64) * 255
    with torch.inference_mode():
        stages = network(crops)
        (deployed,) = CspnInference(network)(crops)
    assert len(stages) == 4 and all(tuple(s.shape) == (2, 77, 24, 16) for s in stages)
    assert torch.equal(deployed, stages[-1])
    assert not torch.allclose(stages[0], stages[-1])  # each stage computes its own maps ...
    assert max(float(s.abs().max()) for s in stages) < 0.01  # ... starting near the empty map
    with torch.inference_mode():
        features = network.backbone(crops)[::-1]
        maps = network.fusion([lateral(f) for lateral, f in zip(network.laterals, features, strict=True)])
    assert [tuple(m.shape[-2:]) for m in maps[1:]] == [(6, 4), (12, 8), (24, 16)]  # strides 16, 8, 4


def _tiny_network(seed: int = 0):
    """The tiny CSPN in eval mode with non-trivial batch-norm statistics (so folding them is tested) and heads of a
    trained model's scale (they start near 0)."""
    from models_tiny import vary_batch_norms

    from garmentcli.models.cspn import build_cspn

    torch.manual_seed(seed)
    network = vary_batch_norms(build_cspn(TINY), weight=(0.5, 1.5))
    with torch.no_grad():
        for head in [network.head, *(stage.head for stage in network.cascade)]:
            head[-1].weight.normal_(0.0, 0.3)
    return network.eval()


def test_export_matches_torch_in_onnxruntime(tmp_path: Path):
    import onnxruntime as ort

    from garmentcli.models.cspn import CspnInference
    from garmentcli.models.export import export_onnx

    network = _tiny_network()
    result = export_onnx(network, ModelCard("tiny-cspn", TINY), tmp_path / "tiny-cspn.onnx")
    assert result.card.architecture == CSPN_ARCHITECTURE and result.card.parameters > 0
    assert ModelCard.read(tmp_path / "tiny-cspn.json") == result.card
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["heatmaps"]
    crops = (torch.rand(3, 3, 96, 64) * 255).numpy()  # another batch size than the export's check
    (produced,) = session.run(None, {"images": crops})
    with torch.inference_mode():
        (expected,) = CspnInference(network)(torch.from_numpy(crops))
    assert np.abs(expected.numpy()).max() > 0.05  # outputs large enough for the comparison to mean something
    np.testing.assert_allclose(produced, expected.numpy(), atol=1e-4, rtol=1e-4)
