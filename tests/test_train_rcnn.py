"""clothNet through torch and torchvision: box and mask targets from samples, tiny Faster / Mask R-CNN models training
a few steps, the classifier and grafting its trunk onto a detector, the deployed graph on onnxruntime against torch,
and ``train`` -> ``export`` -> ``detect`` (``--masks``) -> ``eval`` through the CLI on ``garmentkp synth`` data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
try:
    import torchvision.ops  # noqa: F401
except (ImportError, RuntimeError) as exc:  # RuntimeError: a torchvision built for another torch
    pytest.skip(f"torchvision is not usable here ({exc})", allow_module_level=True)

from test_models_rcnn import TINY_FASTER, TINY_MASK  # noqa: E402

from garmentcli.errors import InputError  # noqa: E402
from garmentcli.io.rle import decode_rle  # noqa: E402
from garmentcli.models.card import ModelCard  # noqa: E402
from garmentcli.models.config import (  # noqa: E402
    FASTERRCNN_ARCHITECTURE,
    MASKRCNN_ARCHITECTURE,
    ClassifierConfig,
    FasterRcnnConfig,
    MaskRcnnConfig,
    architecture_of,
    output_names,
)
from garmentcli.models.rcnn import build_rcnn, unpad_targets  # noqa: E402
from garmentcli.schema.layout import DF2  # noqa: E402
from garmentcli.schema.records import Garment, ImageRecord  # noqa: E402
from garmentcli.train.rcnn_data import BoxDataset, PhotoClassDataset, photo_classes, rcnn_targets  # noqa: E402


def _square_sample(folder: Path, name: str, segmentation: bool = True):
    """A 64 x 64 image with a dark square garment (a skirt) whose polygon is its outline."""
    import cv2

    from garmentcli.train.data import Sample

    image = np.full((64, 64, 3), 200, np.uint8)
    cv2.rectangle(image, (10, 12), (40, 50), (40, 60, 80), -1)
    path = folder / name
    cv2.imwrite(str(path), image)
    polygon = [[10.0, 12.0, 41.0, 12.0, 41.0, 51.0, 10.0, 51.0]] if segmentation else None
    skirt = DF2.category("skirt")
    garment = Garment(skirt.id, [10, 12, 31, 39], np.zeros((skirt.num_landmarks, 3)), id=1, segmentation=polygon)
    return Sample(path, ImageRecord(1, name, 64, 64, [garment]))


def test_targets_from_a_sample_boxes_labels_and_filled_polygons(tmp_path: Path):
    sample = _square_sample(tmp_path, "a.png")
    targets = rcnn_targets(sample.record.garments, 64, slots=3, masks=True)
    assert targets["boxes"].tolist() == [[10, 12, 41, 51], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert targets["labels"].tolist() == [DF2.category("skirt").id, 0, 0]
    assert targets["masks"].shape == (3, 64, 64) and targets["masks"][1:].sum() == 0
    ys, xs = np.nonzero(targets["masks"][0])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 41, 12, 51)
    image, batch_targets = BoxDataset([sample], TINY_MASK, None)[0]  # letterboxed as is: a 64 px image
    assert tuple(image.shape) == (3, 64, 64) and batch_targets["labels"].tolist() == [DF2.category("skirt").id]
    unpadded = unpad_targets({name: value[None] for name, value in batch_targets.items()})
    assert unpadded[0]["boxes"].tolist() == [[10, 12, 41, 51]] and unpadded[0]["masks"].shape == (1, 64, 64)


def test_weak_photos_and_garments_without_masks_are_refused_in_one_line(tmp_path: Path):
    from dataclasses import replace

    sample = _square_sample(tmp_path, "a.png")
    weak = replace(sample, record=replace(sample.record, garments=[]), allowed=frozenset({8}))
    with pytest.raises(InputError, match="1 weakly-labelled photos .* have no boxes"):
        BoxDataset([sample, weak], TINY_FASTER, None)
    with pytest.raises(InputError, match="garment 1 has no segmentation; --arch maskrcnn"):
        BoxDataset([_square_sample(tmp_path, "b.png", segmentation=False)], TINY_MASK, None)
    assert len(BoxDataset([_square_sample(tmp_path, "b.png", segmentation=False)], TINY_FASTER, None)) == 1


@pytest.mark.parametrize("config", [TINY_FASTER, TINY_MASK], ids=["fasterrcnn", "maskrcnn"])
def test_a_tiny_detector_trains_a_few_steps_and_its_loss_falls(config: FasterRcnnConfig, tmp_path: Path):
    from garmentcli.train.loop import Trainer, TrainOptions

    samples = [_square_sample(tmp_path, f"{i}.png") for i in range(2)]
    options = TrainOptions(epochs=6, batch_size=2, lr=3e-3, warmup_steps=1, pretrained=False, seed=1)
    trainer = Trainer(tmp_path / "run", config, options, samples, samples)
    history = trainer.fit()
    losses = [row["loss"] for row in history]
    assert losses[-1] < 0.7 * losses[0], losses
    terms = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}
    assert terms | ({"loss_mask"} if isinstance(config, MaskRcnnConfig) else set()) <= set(history[0])
    assert "val_box_AP" in history[0] and "val_kp_AP" not in history[0]
    assert trainer.best_score == max(row["val_box_AP"] for row in history)  # box AP picks best.pt


def _classifier_samples(tmp_path: Path):
    import cv2

    from garmentcli.train.data import load_samples

    for folder, colour in (("hat", (0, 0, 200)), ("skirt", (200, 0, 0))):
        (tmp_path / "photos" / folder).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(tmp_path / "photos" / folder / f"{i}.png"), np.full((40, 30, 3), colour, np.uint8))
    mapping = tmp_path / "folders.json"
    mapping.write_text(json.dumps({"format": "garmentkp-folder-labels", "folders": {"hat": [], "skirt": ["skirt"]}}))
    return load_samples([f"{tmp_path / 'photos'}@{mapping}"], print), mapping


def test_the_classifier_learns_its_folders_and_grafting_loads_exactly_its_trunk(tmp_path: Path):
    from garmentcli.models.checkpoint import load_checkpoint
    from garmentcli.train.graft import graft_backbone
    from garmentcli.train.loop import Trainer, TrainOptions

    samples, _ = _classifier_samples(tmp_path)
    assert photo_classes(samples) == ("hat", "skirt")
    assert PhotoClassDataset(samples, ClassifierConfig(classes=("hat", "skirt")), None).labels.tolist() == [0, 0, 1, 1]
    options = TrainOptions(epochs=2, batch_size=2, lr=1e-3, warmup_steps=1, pretrained=False, freeze_stages=0)
    run = tmp_path / "classifier"
    trainer = Trainer(run, ClassifierConfig(input_size=64), options, samples, samples)
    history = trainer.fit()
    assert trainer.config.classes == ("hat", "skirt") and {"val_accuracy", "accuracy"} <= set(history[0])
    assert load_checkpoint(run / "last.pt")["config"]["classes"] == ["hat", "skirt"]

    torch.manual_seed(5)
    detector = build_rcnn(TINY_FASTER)
    before = {k: v.clone() for k, v in detector.state_dict().items()}
    copied = graft_backbone(detector, run / "last.pt")
    trunk = trainer.network.backbone.state_dict()
    assert copied == len(trunk) == len(detector.backbone.state_dict())
    for key, value in detector.backbone.state_dict().items():
        assert torch.equal(value, trunk[key]), key  # weights and batch-norm statistics
    assert any(not torch.equal(before[f"backbone.{k}"], v) for k, v in trunk.items())
    rest = [k for k in before if not k.startswith("backbone.")]
    assert rest and all(torch.equal(before[k], detector.state_dict()[k]) for k in rest)  # pyramid, heads untouched

    lite1 = build_rcnn(FasterRcnnConfig(input_size=64, fpn_channels=16, box_head=32, backbone="efficientnet-lite1"))
    with pytest.raises(
        InputError, match="the classifier's trunk is efficientnet-lite0, the detector's efficientnet-lite1"
    ):
        graft_backbone(lite1, run / "last.pt")
    with pytest.raises(InputError, match="not a garment classifier's checkpoint"):
        graft_backbone(detector, _detector_checkpoint(tmp_path))


def _detector_checkpoint(tmp_path: Path) -> Path:
    from garmentcli.models.checkpoint import save_checkpoint

    path = tmp_path / "detector.pt"
    network = build_rcnn(TINY_FASTER)
    save_checkpoint(path, {"model": network.state_dict(), "architecture": FASTERRCNN_ARCHITECTURE,
                           "config": TINY_FASTER.to_dict()})  # fmt: skip
    return path


def confident_network(config: FasterRcnnConfig, seed: int = 0):
    """A random tiny detector whose class scores are lifted above the background's, so that it reports garments."""
    from models_tiny import vary_batch_norms

    torch.manual_seed(seed)
    network = build_rcnn(config)
    with torch.no_grad():
        network.roi_heads.box_predictor.cls_score.bias[1:] += 4.0
    return vary_batch_norms(network).eval()


@pytest.mark.parametrize("config", [TINY_FASTER, TINY_MASK], ids=["fasterrcnn", "maskrcnn"])
def test_export_matches_torch_on_onnxruntime_image_by_image(config: FasterRcnnConfig, tmp_path: Path):
    from garmentcli.models.export import export_onnx
    from garmentcli.models.registry import load_model_files
    from garmentcli.runtime.backends import OnnxBackend, TorchModuleBackend

    network = confident_network(config)
    result = export_onnx(network, ModelCard("tiny", config), tmp_path / "tiny.onnx")
    assert result.max_abs_diff < 1e-3 and result.card.architecture == architecture_of(config)
    files = load_model_files(tmp_path / "tiny.onnx")
    assert files.card.config == config and files.card.parameters == sum(p.numel() for p in network.parameters())
    onnx_backend, torch_backend = OnnxBackend(files), TorchModuleBackend(network)
    assert onnx_backend.single_image
    images = np.random.default_rng(3).uniform(0, 255, (3, 3, 64, 64)).astype(np.float32)
    ours, reference = onnx_backend.run(images), torch_backend.run(images)
    assert set(ours) == set(output_names(config))
    assert ours["scores"].shape == (3, config.max_detections) and (ours["scores"] > 0).sum() > 0
    for name in output_names(config):
        np.testing.assert_allclose(ours[name], reference[name], atol=1e-3, err_msg=name)


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from garmentcli.cli.app import app

    folder = tmp_path_factory.mktemp("synth") / "train"
    result = CliRunner().invoke(
        app, ["synth", str(folder), "--count", "4", "--size", "96", "--seed", "3", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    return folder


def _invoke(*args: str, env: dict[str, str] | None = None):
    from garmentcli.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], env=env)


TINY_ARCH = ["--arch", "fpn_channels=16", "--arch", "box_head=32", "--arch", "max_detections=5"]


def test_maskrcnn_trains_exports_and_detects_with_masks_through_the_cli(synth_data: Path, tmp_path: Path):
    from garmentcli.io.formats import read_annotations
    from garmentcli.models.checkpoint import load_checkpoint

    run = tmp_path / "run"
    train = ["train", synth_data, "--val", synth_data, "--out", run, "--epochs", "1", "--batch-size", "2"]
    result = _invoke(*train, "--input-size", "64", "--threads", "1", "--no-pretrained", "--arch", "maskrcnn",
                     *TINY_ARCH, "--arch", "mask_channels=8")  # fmt: skip
    assert result.exit_code == 0, result.output
    state = load_checkpoint(run / "last.pt")
    assert state["architecture"] == MASKRCNN_ARCHITECTURE and state["config"]["input_size"] == 64
    cache = {"GARMENTKP_MODEL_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    model = tmp_path / "cache" / "mask.onnx"
    exported = _invoke("export", "--checkpoint", run / "last.pt", "-o", model)
    assert exported.exit_code == 0, exported.output
    listed = _invoke("models", "--json", env=cache)
    assert listed.exit_code == 0, listed.output
    cards = [card for card in json.loads(listed.output) if card["origin"] == "cached"]
    assert [(c["name"], c["architecture"], c["input_size"], c["path"]) for c in cards] == [
        ("mask", MASKRCNN_ARCHITECTURE, 64, str(model))
    ]
    table = _invoke("models", env=cache)
    assert table.exit_code == 0 and "mask" in table.output and "64px" in table.output

    out = tmp_path / "pred.json"
    detect = _invoke("detect", synth_data / "image", "-o", out, "--model", "mask", "--masks", "--score-thr", "0",
                     env=cache)  # fmt: skip
    assert detect.exit_code == 0, detect.output
    coco = json.loads(out.read_text())
    assert coco["garmentkp_run"]["settings"]["masks"] is True
    images = {image["id"]: image for image in coco["images"]}
    assert len(images) == 4 and coco["annotations"]
    for annotation in coco["annotations"]:
        image = images[annotation["image_id"]]
        rle = annotation["segmentation"]
        assert rle["size"] == [image["height"], image["width"]]
        mask = decode_rle(rle)
        if mask.any():  # the mask lies within its box (bilinear edge: one pixel of slack)
            ys, xs = np.nonzero(mask)
            x, y, w, h = annotation["bbox"]
            assert x - 1 <= xs.min() and xs.max() <= x + w + 1 and y - 1 <= ys.min() and ys.max() <= y + h + 1
        assert annotation["num_keypoints"] == 0 and not any(annotation["keypoints"])
    again = read_annotations(out)
    assert again.num_garments == len(coco["annotations"])
    report = tmp_path / "eval.json"
    evaluated = _invoke("eval", "--gt", synth_data / "annos", "--pred", out, "--json", report)
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(report.read_text())
    assert figures["counts"]["predictions"] == len(coco["annotations"]) and figures["counts"]["images"] == 4
    assert 0 <= figures["bbox"]["AP"] <= 1 and figures["keypoints"]["AP"] == 0  # boxes only: no landmark placed


def test_fasterrcnn_trains_exports_and_detects_on_both_backends(synth_data: Path, tmp_path: Path):
    from garmentcli.io.formats import read_annotations

    run = tmp_path / "run"
    train = ["train", synth_data, "--out", run, "--epochs", "1", "--batch-size", "2", "--input-size", "64"]
    result = _invoke(*train, "--threads", "1", "--no-pretrained", "--arch", "fasterrcnn", *TINY_ARCH)
    assert result.exit_code == 0, result.output
    model = tmp_path / "boxes.onnx"
    assert _invoke("export", "--checkpoint", run / "last.pt", "-o", model).exit_code == 0
    predicted = {}
    for spec, backend in ((model, "onnx"), (run / "last.pt", "torch")):
        out = tmp_path / f"{backend}.json"
        detect = _invoke("detect", synth_data / "image", "-o", out, "--model", spec, "--backend", backend,
                         "--score-thr", "0")  # fmt: skip
        assert detect.exit_code == 0, detect.output
        predicted[backend] = read_annotations(out)
    for onnx_image, torch_image in zip(predicted["onnx"], predicted["torch"], strict=True):
        assert [g.category_id for g in onnx_image.garments] == [g.category_id for g in torch_image.garments]
        for a, b in zip(onnx_image.garments, torch_image.garments, strict=True):
            np.testing.assert_allclose(a.bbox, b.bbox, atol=1e-2)
            assert not a.landmarks.any() and a.segmentation is None

    for args, message in (
        (["detect", synth_data / "image", "-o", tmp_path / "x.json", "--model", model, "--masks"],
         "--masks: boxes predicts no masks (garmentkp-fasterrcnn-v1)"),
        (["detect", synth_data / "image", "-o", tmp_path / "x.json", "--model", model, "--backend", "torch"],
         "the torch backend runs a two-stage detector from its training checkpoint"),
        (["detect", synth_data / "image", "-o", tmp_path / "x.json", "--model", model, "--flip"],
         "--flip: averages the one-stage detector's heatmaps; boxes is a two-stage model"),
        (["train", synth_data, "--out", tmp_path / "y", "--arch", "fasterrcnn", "--arch", "width=3"],
         "unknown fasterrcnn config keys: width"),
        (["train", synth_data, "--out", tmp_path / "y", "--arch", "cspn", "--graft", run / "last.pt"],
         "only a two-stage detector is grafted"),
        (["train", synth_data, "--out", tmp_path / "y", "--arch", "fasterrcnn", "--graft", run / "last.pt",
          "--input-size", "64", "--no-pretrained", *TINY_ARCH], "not a garment classifier's checkpoint"),
        (["train", f"{synth_data}@{tmp_path / 'none.json'}", "--out", tmp_path / "y", "--arch", "classifier"],
         "none.json"),
    ):  # fmt: skip
        refused = _invoke(*args)
        assert refused.exit_code == 1 and message in refused.output, refused.output
        assert len(refused.output.strip().splitlines()) == 1, refused.output


def test_the_cli_grafts_a_classifier_onto_a_detector(tmp_path: Path, synth_data: Path):
    from garmentcli.models.checkpoint import load_checkpoint

    _, mapping = _classifier_samples(tmp_path)
    photos = f"{tmp_path / 'photos'}@{mapping}"
    classifier = tmp_path / "classifier"
    result = _invoke("train", photos, "--val", photos, "--out", classifier, "--arch", "classifier", "--epochs", "1",
                     "--batch-size", "2", "--input-size", "64", "--threads", "1", "--no-pretrained")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "val_accuracy" in result.output
    detector = tmp_path / "detector"
    result = _invoke("train", synth_data, "--out", detector, "--arch", "fasterrcnn", "--graft", classifier / "best.pt",
                     "--epochs", "1", "--batch-size", "2", "--input-size", "64", "--threads", "1",
                     "--freeze-stages", "5", *TINY_ARCH)  # fmt: skip
    assert result.exit_code == 0, result.output
    grafted, trunk = load_checkpoint(detector / "last.pt"), load_checkpoint(classifier / "best.pt")
    assert grafted["options"]["graft"] == str(classifier / "best.pt")
    keys = [k for k in trunk["model"] if k.startswith("backbone.")]
    assert keys and all(torch.equal(grafted["model"][k], trunk["model"][k]) for k in keys)  # all 5 stages frozen
    weak = _invoke("train", photos, "--out", tmp_path / "z", "--arch", "fasterrcnn", "--input-size", "64")
    assert weak.exit_code == 1 and "4 weakly-labelled photos (PHOTO_DIR@MAPPING.json) have no boxes" in weak.output
