"""RTFPose's per-category fine-tune: the garment groups, a group fine-tune that trains only the head on only its
group's crops, the per-category pick, the per-group model (each crop gets its chosen head's rows, torch and
onnxruntime alike), the CLI from synthetic data to ``detect --landmarks``, and its one-line errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from garmentcli.errors import SchemaError
from garmentcli.models.config import TopDownConfig
from garmentcli.schema.garment_groups import (
    GARMENT_GROUPS,
    SHARED_HEAD,
    group_categories,
    group_landmark_rows,
    group_of,
)
from garmentcli.schema.layout import DF2

TINY = TopDownConfig(input_width=64, input_height=96, channels=16, hidden=32)
CHOICE = ("tops", SHARED_HEAD, "outerwear", SHARED_HEAD, SHARED_HEAD, "slings", *[SHARED_HEAD] * 6, "slings")
"""A per-category choice with three group heads, a group (outerwear) used by one of its categories only."""


def test_the_garment_groups_partition_the_13_categories():
    members = [c for group in GARMENT_GROUPS for c in group_categories(group)]
    assert sorted(members) == DF2.ids and len(set(members)) == 13
    assert list(GARMENT_GROUPS) == ["tops", "outerwear", "bottoms", "dresses", "vests", "slings"]
    assert group_of(12) == "vests" and group_of(13) == "slings" and group_of(9) == "bottoms"
    for group in GARMENT_GROUPS:
        rows = group_landmark_rows(group)
        needed = {int(r) for c in group_categories(group) for r in DF2.group_of[DF2.category(c).slice]}
        assert rows.tolist() == sorted(needed)
    with pytest.raises(SchemaError, match="unknown garment group 'hats' \\(known: tops, outerwear"):
        group_categories("hats")


def test_a_per_group_config_names_each_categorys_head_and_round_trips():
    config = TopDownConfig(heads=CHOICE)
    assert TopDownConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(SchemaError, match="names 2 heads; one per category"):
        TopDownConfig(heads=("tops", "tops"))
    with pytest.raises(SchemaError, match="skirt takes the shared or the bottoms head, not 'tops'"):
        TopDownConfig(heads=(*CHOICE[:8], "tops", *CHOICE[9:]))


def test_the_pick_takes_the_strictly_better_head_per_category():
    from garmentcli.train.group_heads import choose_heads

    shared = {1: 0.50, 2: 0.60, 3: 0.40, 4: 0.40, 6: 0.30, 7: 0.90, 13: 0.20}
    grouped = {1: 0.70, 2: 0.60, 3: 0.20, 4: 0.45, 6: 0.31, 7: 0.95}
    choice = choose_heads(shared, grouped, ["tops", "outerwear", "slings"])
    assert choice == ("tops", SHARED_HEAD, SHARED_HEAD, "outerwear", SHARED_HEAD, "slings", *[SHARED_HEAD] * 7)
    # 2: a tie keeps the shared head; 7: better, but no bottoms head was given; 13: no group figure, 5: no figures


torch = pytest.importorskip("torch")

from test_train_loop import drawn_samples  # noqa: E402

from garmentcli.cli.app import app  # noqa: E402
from garmentcli.models.checkpoint import save_checkpoint  # noqa: E402
from garmentcli.models.config import TOPDOWN_ARCHITECTURE  # noqa: E402
from garmentcli.schema.records import Garment  # noqa: E402


def _save(path: Path, network, group: str | None = None) -> Path:
    """``network`` as a checkpoint (what ``train`` writes, less the optimiser), a fine-tune of ``group``."""
    state = {"architecture": TOPDOWN_ARCHITECTURE, "config": network.config.to_dict(), "model": network.state_dict()}
    save_checkpoint(path, {**state, "options": {"group": group}})
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A random shared model and, for tops, outerwear and slings, a copy whose head alone is changed."""
    from models_tiny import vary_batch_norms

    from garmentcli.models.topdown import build_topdown

    folder = tmp_path_factory.mktemp("group_heads")
    torch.manual_seed(0)
    shared = vary_batch_norms(build_topdown(TINY)).eval()
    with torch.no_grad():
        shared.self_attention.gamma.fill_(0.3)
    heads = {}
    for group in ("tops", "outerwear", "slings"):
        tuned = copy.deepcopy(shared)
        with torch.no_grad():
            for parameter in tuned.head.parameters():
                parameter.add_(0.3 * torch.randn_like(parameter))
        heads[group] = _save(folder / f"{group}.pt", tuned, group)
    return _save(folder / "shared.pt", shared), heads


def _garments(seed: int = 0) -> list[Garment]:
    """One garment of every category, scattered over a 200 x 240 image."""
    rng = np.random.default_rng(seed)
    garments = []
    for category in DF2.categories:
        box = np.array([*rng.uniform(0, 80, 2), *rng.uniform(40, 120, 2)])
        landmarks = np.column_stack(
            [rng.uniform(0, 200, (category.num_landmarks, 2)), np.full(category.num_landmarks, 2)]
        )
        garments.append(Garment(category.id, box, landmarks))
    return garments


def test_each_crop_gets_its_chosen_heads_landmarks_on_torch_and_onnxruntime(checkpoints, tmp_path: Path):
    from garmentcli.models.card import ModelCard
    from garmentcli.models.checkpoint import network_from_checkpoint
    from garmentcli.models.export import export_onnx
    from garmentcli.runtime.topdown import TopDownLandmarker, load_landmarker, torch_runner
    from garmentcli.train.group_heads import compose, load_group_heads

    shared_path, head_paths = checkpoints
    shared, heads = load_group_heads(shared_path, list(head_paths.values()))
    grouped = compose(shared, heads, CHOICE)
    assert list(grouped.group_heads) == ["outerwear", "slings", "tops"] and grouped.config.heads == CHOICE
    alone = {g: network_from_checkpoint(p)[0] for g, p in head_paths.items()} | {SHARED_HEAD: shared}
    crops = torch.rand(13, 3, 96, 64) * 255
    with torch.inference_mode():
        x, y = grouped(crops, torch.tensor(DF2.ids))
        for k, (category, head) in enumerate(zip(DF2.categories, CHOICE, strict=True)):
            rows = DF2.group_of[category.slice]
            own_x, own_y = alone[head](crops[k : k + 1])
            np.testing.assert_allclose(x[k, rows], own_x[0, rows], atol=1e-5)
            np.testing.assert_allclose(y[k, rows], own_y[0, rows], atol=1e-5)

    path = tmp_path / "grouped.onnx"
    result = export_onnx(grouped, ModelCard("grouped", grouped.config), path)
    assert result.max_abs_diff < 1e-4
    image = np.random.default_rng(1).integers(0, 255, (240, 200, 3), np.uint8)
    garments = _garments()
    onnx_landmarker = load_landmarker(path)
    assert onnx_landmarker.config.heads == CHOICE
    (deployed,) = onnx_landmarker.landmarks([image], [garments])
    (in_torch,) = TopDownLandmarker(torch_runner(grouped), grouped.config).landmarks([image], [garments])
    for garment, onnx_found, torch_found, head in zip(garments, deployed, in_torch, CHOICE, strict=True):
        (expected,) = TopDownLandmarker(torch_runner(alone[head]), TINY).landmarks([image], [[garment]])[0]
        np.testing.assert_allclose(onnx_found.landmarks, expected.landmarks, atol=1e-3)
        np.testing.assert_allclose(torch_found.landmarks, expected.landmarks, atol=1e-4)


def test_no_group_head_chosen_is_the_shared_model_itself(checkpoints):
    from garmentcli.train.group_heads import compose, load_group_heads

    shared, heads = load_group_heads(checkpoints[0], list(checkpoints[1].values()))
    assert compose(shared, heads, [SHARED_HEAD] * 13) is shared


def _mixed_samples(folder: Path, count: int):
    """:func:`drawn_samples` with every second garment a short-sleeved shirt (a top) instead of shorts."""
    from dataclasses import replace

    samples = drawn_samples(folder, count)
    shirt = DF2.category(1)
    for i in range(1, count, 2):
        garment = samples[i].record.garments[0]
        x0, y0, w, h = garment.bbox
        t = np.linspace(0, 1, shirt.num_landmarks)
        landmarks = np.column_stack([x0 + w * t, y0 + h * (1 - t) ** 2, np.full(shirt.num_landmarks, 2.0)])
        record = replace(samples[i].record, garments=[Garment(shirt.id, garment.bbox, landmarks)])
        samples[i] = replace(samples[i], record=record)
    return samples


def test_a_group_fine_tune_trains_only_the_head_on_only_its_groups_crops(tmp_path: Path):
    from garmentcli.train.loop import Trainer, TrainOptions
    from garmentcli.train.topdown_data import only_group

    samples = _mixed_samples(tmp_path / "images", 8)
    options = TrainOptions(epochs=1, batch_size=2, lr=5e-3, warmup_steps=1, seed=5, freeze_stages=5)
    shared = Trainer(tmp_path / "shared", TINY, options, samples, [])
    shared.fit()
    options.init, options.group, options.epochs = str(tmp_path / "shared" / "last.pt"), "tops", 2
    tuned = Trainer(tmp_path / "tops", TINY, options, samples, samples)
    assert [tuned.train_set.samples[s].record.garments[g].category_id for s, g in tuned.train_set.items] == [1] * 4
    assert [s.record.file_name for s in tuned.val_samples] == [s.record.file_name for s in samples[1::2]]
    history = tuned.fit()
    assert history[-1]["loss"] < history[0]["loss"]
    before, after = shared.network.state_dict(), tuned.network.cpu().state_dict()
    trunk = [k for k in before if not k.startswith("head.")]
    assert len(trunk) > 100 and all(torch.equal(before[k], after[k]) for k in trunk)  # bit-identical
    assert all(not torch.equal(before[k], after[k]) for k in before if k.startswith("head.") and k.endswith("weight"))
    assert only_group(samples, "bottoms")[0].record.garments[0].category_id == 7 and not only_group(samples, "vests")


def test_the_picked_model_scores_the_better_head_of_each_category(checkpoints, tmp_path: Path):
    """On validation garments of every category, the picked model's AP per category is the better of the two."""
    import cv2

    from garmentcli.schema.records import ImageRecord
    from garmentcli.train.data import Sample
    from garmentcli.train.group_heads import group_model, per_category_ap

    rng = np.random.default_rng(3)
    samples = []
    for i in range(2):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), rng.integers(0, 255, (240, 200, 3), np.uint8))
        samples.append(Sample(path, ImageRecord(i, path.name, 200, 240, _garments(i))))
    shared_path, head_paths = checkpoints
    network, report = group_model(shared_path, list(head_paths.values()), samples)
    table = report["per_category"]
    assert report["checkpoints"] == {g: str(p) for g, p in sorted(head_paths.items())}
    assert [table[c.name]["head"] for c in DF2.categories] == list(network.config.heads or [SHARED_HEAD] * 13)
    final = per_category_ap(network, samples, "cpu")
    for category in DF2.categories:
        entry = table[category.name]
        assert entry["validation_garments"] == 2 and entry["garment_group"] == group_of(category.id)
        if entry["group_kp_AP"] is None:
            assert entry["head"] == SHARED_HEAD and group_of(category.id) not in head_paths
        else:
            better = entry["group_kp_AP"] > entry["shared_kp_AP"]
            assert entry["head"] == (group_of(category.id) if better else SHARED_HEAD)
        assert final[category.id] == max(entry["shared_kp_AP"], entry["group_kp_AP"] or -1.0)


def test_a_group_head_must_come_from_the_shared_model(checkpoints, tmp_path: Path):
    from garmentcli.errors import InputError
    from garmentcli.models.checkpoint import network_from_checkpoint
    from garmentcli.train.group_heads import compose, load_group_heads

    shared_path, head_paths = checkpoints
    network = network_from_checkpoint(head_paths["tops"])[0]
    with torch.no_grad():
        next(network.backbone.parameters()).add_(1e-6)
    moved = _save(tmp_path / "moved.pt", network, "tops")
    plain = _save(tmp_path / "plain.pt", network)
    cases = [
        ([moved], f"{moved}: its trunk differs from {shared_path}'s (first at backbone."),
        ([plain], f"{plain}: not a per-group fine-tune (garmentkp train --init {shared_path} --group GROUP)"),
        ([head_paths["tops"], moved], f"{moved}: a second tops head (the first is {head_paths['tops']})"),
    ]
    for paths, message in cases:
        with pytest.raises(InputError) as caught:
            load_group_heads(shared_path, paths)
        assert str(caught.value).startswith(message), str(caught.value)
    shared, heads = load_group_heads(shared_path, list(head_paths.values()))
    grouped = _save(tmp_path / "grouped.pt", compose(shared, heads, CHOICE))
    with pytest.raises(InputError, match=f"{grouped}: not a one-head rtfpose checkpoint"):
        load_group_heads(grouped, [])


SHAPE = ["input_width=64", "input_height=96", "channels=16", "hidden=32"]
QUICK = ["--epochs", "1", "--batch-size", "2", "--freeze-stages", "5", "--threads", "1"]


def _invoke(args: list[str]):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic images: three short-sleeved shirts (tops) and three slings."""
    folder = tmp_path_factory.mktemp("synth") / "data"
    categories = "short_sleeved_shirt,sling"
    _invoke(["synth", folder, "-n", "6", "--size", "128", "-c", categories, "--workers", "1", "--seed", "1"])
    return folder


def test_shared_then_two_groups_then_one_model_that_detect_runs(synth_data: Path, tmp_path: Path):
    from garmentcli.io.formats import read_annotations
    from garmentcli.models.card import ModelCard

    shared = tmp_path / "shared"
    _invoke(["train", synth_data, "--out", shared, *QUICK, "--arch", "rtfpose", *[f"--arch={a}" for a in SHAPE]])
    for group in ("tops", "slings"):
        result = _invoke(["train", synth_data, "--val", synth_data, "--out", tmp_path / group, *QUICK,
                          "--init", shared / "last.pt", "--group", group])  # fmt: skip
        assert "garment crops" in result.output
    model = tmp_path / "model.onnx"
    heads = ["--group-head", tmp_path / "tops" / "last.pt", "--group-head", tmp_path / "slings" / "last.pt"]
    result = _invoke(["export", "--checkpoint", shared / "last.pt", *heads, "--val", synth_data, "-o", model])
    assert "per-category heads picked on 6 validation images" in result.output
    card = ModelCard.read(model.with_suffix(".json"))
    assert set(card.training["group_heads"]["checkpoints"]) == {"tops", "slings"}
    table = card.metrics["head_choice"]
    assert [table[c.name]["head"] for c in DF2.categories] == list(card.config.heads or [SHARED_HEAD] * 13)
    assert table["sling"]["group_kp_AP"] is not None and table["shorts"]["group_kp_AP"] is None
    out = tmp_path / "pred.json"
    boxes = synth_data / "coco.json"
    _invoke(["detect", synth_data / "image", "-o", out, "--boxes", boxes, "--landmarks", model])
    truth = {r.file_name: r for r in read_annotations(boxes)}
    for record in read_annotations(out):
        given = truth[record.file_name].garments
        assert [g.category_id for g in record.garments] == [g.category_id for g in given]
        assert all(g.landmarks.shape == t.landmarks.shape for g, t in zip(record.garments, given, strict=True))


def test_detect_runs_a_per_group_model(checkpoints, tmp_path: Path):
    from test_detect_topdown import SAMPLES

    from garmentcli.io.formats import read_annotations
    from garmentcli.io.images import read_image
    from garmentcli.models.card import ModelCard
    from garmentcli.models.export import export_onnx
    from garmentcli.runtime.topdown import load_landmarker
    from garmentcli.train.group_heads import compose, load_group_heads

    shared, heads = load_group_heads(checkpoints[0], list(checkpoints[1].values()))
    grouped = compose(shared, heads, CHOICE)
    path = tmp_path / "grouped.onnx"
    export_onnx(grouped, ModelCard("grouped", grouped.config), path)
    out = tmp_path / "pred.json"
    _invoke(["detect", SAMPLES / "image", "-o", out, "--boxes", SAMPLES / "coco.json", "--landmarks", path])
    truth = {r.file_name: r for r in read_annotations(SAMPLES / "coco.json")}
    landmarker = load_landmarker(path)
    for record in list(read_annotations(out))[:3]:
        image = read_image(SAMPLES / "image" / record.file_name)
        (expected,) = landmarker.landmarks([image], [truth[record.file_name].garments])
        for mine, theirs in zip(record.garments, expected, strict=True):
            np.testing.assert_allclose(mine.landmarks, theirs.landmarks, atol=1e-3)


def test_per_group_user_errors_are_one_line(checkpoints, synth_data: Path, tmp_path: Path):
    shared_path, head_paths = checkpoints
    out = tmp_path / "m.onnx"
    export = ["export", "--checkpoint", shared_path, "-o", out]
    train = ["train", synth_data, "--out", tmp_path / "r", *QUICK]
    cases = [
        ([*train, "--group", "hats"], "--group: unknown garment group 'hats' (known: tops, outerwear"),
        ([*train, "--group", "tops", "--arch", "rtfpose"], "--group tops: fine-tunes the head of a trained shared"),
        ([*train, "--group", "tops", "--resume", shared_path], "--group tops with --resume"),
        ([*export, "--group-head", head_paths["tops"]], "--group-head: each category's head is picked on validation"),
        ([*export, "--val", synth_data], "--val: picks the per-group heads; give them with --group-head"),
        (["export", "--random", "-o", out, "--group-head", shared_path], "--group-head and --val go with --checkpoint"),
        ([*export, "--group-head", shared_path, "--val", synth_data], f"{shared_path}: not a per-group fine-tune"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
