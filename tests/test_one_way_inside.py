"""Issue 17, "one way inside": each fact and each job has one implementation that every command uses."""

import numpy as np
import pytest

from garmentcli.errors import InputError


@pytest.mark.parametrize("text", ["aruco:4x4_50:0:8", "aruco:4x4_50:0:8cm", "aruco:4X4_50:3:7.5cm"])
def test_one_marker_spec_parser_for_measure_and_synth(text):
    from garmentcli.measure.calibration import MarkerSpec as MeasureSpec
    from garmentcli.synth.markers import MarkerSpec as SynthSpec

    assert MeasureSpec.parse(text) == SynthSpec.parse(text)


@pytest.mark.parametrize("text", ["aruco:4x4_50:0", "aruco:4x4_50:50:8", "aruco:4x4_50:0:-1cm"])
def test_one_marker_spec_parser_refuses_alike(text):
    from garmentcli.measure.calibration import MarkerSpec as MeasureSpec
    from garmentcli.synth.markers import MarkerSpec as SynthSpec

    for spec in (MeasureSpec, SynthSpec):
        with pytest.raises(InputError, match="--marker"):
            spec.parse(text)


def _drawn_sources(folder, count):
    from test_train_loop import drawn_samples

    from garmentcli.io.sources import ImageSource

    samples = drawn_samples(folder, count)
    return samples, [ImageSource(s.path, s.record.file_name) for s in samples]


def test_validation_decodes_as_detect_does(tmp_path):
    """Training's validation runs the Predictor on the in-memory network: the same garments as detect
    on the exported model (to_image_all, the same decoding options)."""
    pytest.importorskip("torch")
    from models_tiny import TINY_CONFIG, tiny_network

    from garmentcli.models.card import ModelCard
    from garmentcli.models.export import export_onnx
    from garmentcli.runtime.predictor import Predictor
    from garmentcli.train.validate import predict_samples

    samples, sources = _drawn_sources(tmp_path / "drawn", 6)
    network = tiny_network(3)
    export_onnx(network, ModelCard("tiny", TINY_CONFIG), tmp_path / "tiny.onnx")
    validated = predict_samples(network, TINY_CONFIG, samples, "cpu")
    detected = list(Predictor(tmp_path / "tiny.onnx").predict_sources(sources, [s.record.id for s in samples]))
    assert [r.file_name for r in validated] == [r.file_name for r in detected]
    assert sum(len(r.garments) for r in detected) > 0
    for ours, theirs in zip(validated, detected, strict=True):
        assert len(ours.garments) == len(theirs.garments)
        for a, b in zip(ours.garments, theirs.garments, strict=True):
            assert a.category_id == b.category_id
            np.testing.assert_allclose(a.bbox, b.bbox, atol=0.05)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.05)
            assert a.score == pytest.approx(b.score, abs=1e-3)
    assert network.training is False


def test_torch_module_backend_runs_the_deployed_wrapper():
    torch = pytest.importorskip("torch")
    from models_tiny import tiny_network

    from garmentcli.models.network import InferenceNetwork
    from garmentcli.runtime.backends import TorchModuleBackend

    network = tiny_network(1).train()
    images = np.random.default_rng(0).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32)
    outputs = TorchModuleBackend(network, "cpu").run(images)
    assert network.training  # the caller's mode is left as it was
    with torch.inference_mode():
        expected = InferenceNetwork(network.eval())(torch.from_numpy(images))
    for (name, got), want in zip(outputs.items(), expected, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-6, err_msg=name)


def test_measure_runs_the_detector_batched(tmp_path, monkeypatch):
    """measure's image inputs go through the Predictor's batched, prefetching path (one network call for a
    batch, not one per image), and keep the pixels for calibration."""
    pytest.importorskip("onnxruntime")
    from models_tiny import shared_tiny_model

    from garmentcli.measure.batch import detected_items
    from garmentcli.runtime.predictor import Predictor

    _, sources = _drawn_sources(tmp_path / "drawn", 5)
    predictor = Predictor(shared_tiny_model(), batch_size=8)
    calls = []
    run = predictor.backend.run
    monkeypatch.setattr(predictor.backend, "run", lambda images: calls.append(len(images)) or run(images))
    items = list(detected_items(sources, predictor, lambda message: pytest.fail(message)))
    assert calls == [5]
    assert [i.record.file_name for i in items] == [s.name for s in sources]
    assert all(i.image is not None and i.image.shape == (96, 128, 3) for i in items)
