"""The predictor: letterbox geometry, image ids, backend parity, flip TTA, zoom refinement, failures, timers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from models_tiny import shared_tiny_model

from garmentcli.errors import ImageReadError, InputError
from garmentcli.io.sources import ImageSource
from garmentcli.models.codec import DecodeOptions
from garmentcli.runtime.letterbox import Letterbox, letterbox, warp
from garmentcli.runtime.predictor import Predictor, adopt_match
from garmentcli.schema.records import Garment

OPTIONS = DecodeOptions(score_thr=0.3, max_dets=5)


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("torch")
    return shared_tiny_model()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    sources = []
    for index, (h, w) in enumerate([(60, 90), (90, 60), (64, 64), (33, 120), (100, 100)]):
        path = folder / f"{index + 1:06d}.png"
        cv2.imwrite(str(path), cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (5, 5), 0))
        sources.append(ImageSource(path, path.name))
    return sources


def test_letterbox_centres_the_image_and_maps_points_back():
    image = np.zeros((50, 100, 3), np.uint8)
    image[10, 20] = 255
    canvas, box = letterbox(image, 64)
    assert box == Letterbox(0.64, 0.0, 16.0, 100, 50)
    assert canvas.shape == (64, 64, 3)
    assert tuple(canvas[0, 0]) == (114, 114, 114)  # padding above the image
    garment = Garment(9, [20 * 0.64, 10 * 0.64 + 16, 32, 16], np.array([[12.8, 22.4, 0.9]] * 8))
    back = box.to_image(garment)
    np.testing.assert_allclose(back.bbox, [20, 10, 50, 25])
    np.testing.assert_allclose(back.landmarks[0], [20, 10, 0.9])


def test_letterbox_clips_boxes_and_landmarks_to_the_image():
    box = Letterbox.fit(100, 50, 64)
    back = box.to_image(Garment(9, [-10, 0, 100, 70], np.array([[-5.0, 70.0, 0.5]] * 8)))
    assert back.bbox[0] == 0 and back.bbox[1] == 0
    assert back.bbox[0] + back.bbox[2] <= 100 and back.bbox[1] + back.bbox[3] <= 50
    np.testing.assert_allclose(back.landmarks[0], [0, 50, 0.5])


def test_crop_around_a_box_centres_it_at_the_chosen_fill():
    box = Letterbox.around(np.array([100.0, 40.0, 50.0, 20.0]), 0.8, 300, 200, 64)
    assert box.scale == pytest.approx(64 * 0.8 / 50)
    corners = np.array([[100.0, 40.0], [150.0, 60.0]]) @ box.matrix[:, :2].T + box.matrix[:, 2]
    np.testing.assert_allclose(corners, [[6.4, 21.76], [57.6, 42.24]])  # 51.2 x 20.48, centred on (32, 32)
    image = np.zeros((200, 300, 3), np.uint8)
    image[50, 125] = 255  # the box centre
    crop = warp(image, box, 64)
    assert np.unravel_index(crop[..., 0].argmax(), (64, 64)) in {(31, 31), (31, 32), (32, 31), (32, 32)}
    inside = Garment(9, [6.4, 21.76, 51.2, 20.48], np.array([[32.0, 32.0, 0.7]] * 8))
    back = box.to_image(inside)
    np.testing.assert_allclose(back.bbox, [100, 40, 50, 20])
    np.testing.assert_allclose(back.landmarks[0], [125, 50, 0.7])


def test_the_refined_match_is_the_same_category_overlapping_most():
    first = Garment(7, [10, 10, 100, 100], np.zeros((14, 3)), score=0.9, id=4)
    near = Garment(7, [12, 10, 100, 98], np.ones((14, 3)), score=0.5)
    nearer = Garment(7, [11, 10, 100, 100], np.full((14, 3), 2.0), score=0.3)
    other_category = Garment(8, [10, 10, 100, 100], np.ones((8, 3)), score=0.99)
    adopted = adopt_match(first, [near, other_category, nearer])
    np.testing.assert_array_equal(adopted.landmarks, nearer.landmarks)
    np.testing.assert_array_equal(adopted.bbox, nearer.bbox)
    assert (adopted.category_id, adopted.score, adopted.id) == (7, 0.9, 4)  # the first pass decides what it is
    far = Garment(7, [80, 80, 100, 100], np.ones((14, 3)), score=0.9)  # IoU 0.05
    assert adopt_match(first, [far, other_category]) is first
    assert adopt_match(first, []) is first


def test_refinement_keeps_what_was_found_and_reruns_on_each_crop(tiny, photos):
    # that the crops' landmarks are better is shown with the trained model in test_default_model.py
    images = [cv2.imread(str(s.path)) for s in photos]
    single = Predictor(tiny, options=OPTIONS).predict(images)
    refining = Predictor(tiny, options=OPTIONS, refine=True, batch_size=2)
    batches = []
    run = refining.backend.run
    refining.backend.run = lambda batch: batches.append(len(batch)) or run(batch)
    refined = refining.predict(images)
    garments = sum(map(len, single))
    assert garments > 0
    assert batches[0] == len(images)  # the whole images, then one crop per garment in batches of 2
    assert sum(batches[1:]) == garments and max(batches[1:]) <= 2
    assert refining.timer.images == len(images)  # crops are extra passes, not extra images
    for before, after in zip(single, refined, strict=True):
        assert [(g.category_id, g.score) for g in before] == [(g.category_id, g.score) for g in after]
    from_files = Predictor(tiny, options=OPTIONS, refine=True).predict_sources(photos)
    for record, found in zip(from_files, refined, strict=True):
        assert [g.landmarks.tolist() for g in record.garments] == [g.landmarks.tolist() for g in found]


def test_onnx_and_torch_backends_give_the_same_detections(tiny, photos):
    # every peak decoded and kept, so near-equal scores cannot rank differently across a cut-off
    everything = DecodeOptions(score_thr=0.3, max_dets=1000, max_candidates=100_000)
    onnx = list(Predictor(tiny, "onnx", options=everything, batch_size=2).predict_sources(photos))
    torch = list(Predictor(tiny, "torch", options=everything, batch_size=3).predict_sources(photos))
    assert [r.id for r in onnx] == [1, 2, 3, 4, 5]
    assert sum(len(r.garments) for r in onnx) > 0
    clear = everything.score_thr + 1e-3  # a garment scoring right at the threshold may fall either side
    for a, b in zip(onnx, torch, strict=True):
        assert (a.width, a.height) == (b.width, b.height)
        ours = [g for g in a.garments if g.score >= clear]
        theirs = [g for g in b.garments if g.score >= clear]
        assert len(ours) == len(theirs)
        for garment in ours:
            # one garment per (category, centre cell); box sizes are shared by the categories of a cell
            (twin,) = [
                g for g in theirs if g.category_id == garment.category_id and np.abs(g.bbox - garment.bbox).max() < 1e-2
            ]
            np.testing.assert_allclose(twin.landmarks, garment.landmarks, atol=1e-2)
            assert twin.score == pytest.approx(garment.score, abs=1e-4)


def test_records_are_in_original_image_pixels(tiny, photos):
    for record in Predictor(tiny, options=OPTIONS).predict_sources(photos):
        image = cv2.imread(str(photos[record.id - 1].path))
        assert (record.height, record.width) == image.shape[:2]
        for garment in record.garments:
            x, y, w, h = garment.bbox
            assert x >= 0 and x + w <= record.width + 1e-6 and y >= 0 and y + h <= record.height + 1e-6
            assert garment.landmarks.shape == (garment.category.num_landmarks, 3)


def test_predict_on_arrays_matches_predict_sources(tiny, photos):
    predictor = Predictor(tiny, options=OPTIONS)
    from_files = [r.garments for r in predictor.predict_sources(photos[:2])]
    from_arrays = predictor.predict([cv2.imread(str(s.path)) for s in photos[:2]])
    for a, b in zip(from_files, from_arrays, strict=True):
        assert [g.bbox.tolist() for g in a] == [g.bbox.tolist() for g in b]


def test_flip_tta_runs_and_differs_from_a_single_pass(tiny, photos):
    image = cv2.imread(str(photos[2].path))  # square: no padding, where an untrained net's boxes would be dropped
    single = Predictor(tiny, options=OPTIONS).predict([image])[0]
    flipped = Predictor(tiny, options=OPTIONS, flip=True).predict([image])[0]
    assert flipped and [g.bbox.tolist() for g in flipped] != [g.bbox.tolist() for g in single]


def test_failures_are_reported_and_skipped_in_order(tiny, photos, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    sources = [photos[0], ImageSource(bad, "bad.jpg"), photos[1]]
    failed = []
    predictor = Predictor(tiny, options=OPTIONS, batch_size=2)
    records = list(predictor.predict_sources(sources, [1, 99, 2], on_error=lambda s, e: failed.append((s.name, e))))
    assert [r.file_name for r in records] == [photos[0].name, photos[1].name]
    assert [name for name, _ in failed] == ["bad.jpg"]
    assert isinstance(failed[0][1], ImageReadError)
    with pytest.raises(ImageReadError, match="bad.jpg"):
        list(predictor.predict_sources(sources, [1, 99, 2]))


def test_stage_timers_count_every_image(tiny, photos):
    ticks = iter(range(10_000))
    predictor = Predictor(tiny, options=OPTIONS, batch_size=2)
    predictor.timer.clock = lambda: float(next(ticks))
    list(predictor.predict_sources(photos))
    assert predictor.timer.images == len(photos)
    # 3 batches x 1 tick for each of preprocess (stacking), inference and postprocess
    assert predictor.timer.seconds["inference"] == 3.0
    assert predictor.timer.seconds["postprocess"] == 3.0
    assert predictor.timer.seconds["decode"] > 0


def test_unknown_backend_and_device_are_user_errors(tiny):
    with pytest.raises(InputError, match="unknown backend 'tflite'"):
        Predictor(tiny, "tflite")
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        Predictor(tiny, "onnx", "tpu")
