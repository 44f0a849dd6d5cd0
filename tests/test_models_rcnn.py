"""clothNet's parts that need neither torch nor torchvision: the two-stage detectors' and the classifier's configs and
cards, decoding the deployed outputs, masks pasted into the image and written as COCO RLE (against pycocotools).
The networks, their training, grafting, export and the CLI are tested in ``test_train_rcnn.py``."""

from __future__ import annotations

import numpy as np
import pytest

from garmentcli.errors import InputError, SchemaError
from garmentcli.io.rle import decode_rle, encode_rle
from garmentcli.models.card import ModelCard
from garmentcli.models.codec import DecodeOptions
from garmentcli.models.config import (
    FASTERRCNN_ARCHITECTURE,
    MASKRCNN_ARCHITECTURE,
    ClassifierConfig,
    FasterRcnnConfig,
    MaskRcnnConfig,
    architecture_of,
    config_type,
    output_names,
)
from garmentcli.models.rcnn_codec import RcnnDecoder
from garmentcli.runtime.letterbox import Letterbox
from garmentcli.runtime.masks import image_mask
from garmentcli.schema.layout import DF2

TINY_FASTER = FasterRcnnConfig(input_size=64, fpn_channels=16, box_head=32, max_detections=5)
TINY_MASK = MaskRcnnConfig(input_size=64, fpn_channels=16, box_head=32, max_detections=5, mask_channels=8)


def test_configs_are_validated_round_trip_and_name_their_cards():
    for config, architecture in ((TINY_FASTER, FASTERRCNN_ARCHITECTURE), (TINY_MASK, MASKRCNN_ARCHITECTURE)):
        assert type(config).from_dict(config.to_dict()) == config
        assert architecture_of(config) == architecture and config_type(architecture) is type(config)
        card = ModelCard.from_dict(ModelCard("tiny", config).to_dict())
        assert card.architecture == architecture and card.config == config and type(card.config) is type(config)
        assert not card.is_topdown and card.input_text == "64px"
    assert output_names(TINY_FASTER) == ("boxes", "scores", "labels")
    assert output_names(TINY_MASK) == ("boxes", "scores", "labels", "masks")
    with pytest.raises(SchemaError, match="FasterRcnnConfig.input_size must be a positive multiple of 32"):
        FasterRcnnConfig(input_size=100)
    with pytest.raises(SchemaError, match="unknown fasterrcnn config keys: mask_channels"):
        FasterRcnnConfig.from_dict({"mask_channels": 8})
    with pytest.raises(SchemaError, match="MaskRcnnConfig.mask_channels"):
        MaskRcnnConfig(mask_channels=0)
    with pytest.raises(SchemaError, match="predicts 12 categories"):
        FasterRcnnConfig(num_categories=12)
    with pytest.raises(SchemaError, match="ClassifierConfig.classes repeats a name"):
        ClassifierConfig(classes=("hat", "hat"))
    assert ClassifierConfig.from_dict(ClassifierConfig(classes=("a", "b")).to_dict()).classes == ("a", "b")


def test_decoder_keeps_scored_rows_best_first_with_empty_landmarks():
    outputs = {
        "boxes": np.array([[[10, 20, 30, 60], [1, 2, 5, 9], [0, 0, 0, 0]]], np.float32),
        "scores": np.array([[0.3, 0.9, 0.0]], np.float32),
        "labels": np.array([[7, 1, 0]], np.int64),
        "masks": np.arange(3 * 4).reshape(1, 3, 2, 2).astype(np.float32),
    }
    decoder = RcnnDecoder(TINY_MASK)
    (found,) = decoder.decode(outputs, DecodeOptions(score_thr=0.2))
    assert [g.category_id for g in found] == [1, 7] and [g.score for g in found] == pytest.approx([0.9, 0.3])
    assert found[1].bbox.tolist() == [10, 20, 20, 40]
    assert found[1].landmarks.shape == (DF2.category(7).num_landmarks, 3) and not found[1].landmarks.any()
    np.testing.assert_array_equal(decoder.masks(outputs, DecodeOptions(score_thr=0.2))[0], outputs["masks"][0, [1, 0]])
    assert decoder.decode(outputs, DecodeOptions(score_thr=0.0))[0][-1].score == pytest.approx(0.3)  # no padding row
    assert [g.score for g in decoder.decode(outputs, DecodeOptions(max_dets=1))[0]] == [pytest.approx(0.9)]


def test_rle_round_trips_and_matches_pycocotools():
    coco_mask = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    for shape in ((5, 7), (1, 1), (0, 3), (40, 33), (120, 90)):
        for fill in (0.0, 0.03, 0.5, 0.97, 1.0):
            mask = rng.random(shape) < fill
            if shape[0] > 30:
                mask[5:25, 3:20] = True  # long runs: multi-character counts
            ours = encode_rle(mask)
            theirs = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
            assert ours == {"size": list(shape), "counts": theirs["counts"].decode()}
            np.testing.assert_array_equal(decode_rle(ours), mask)
    with pytest.raises(InputError, match="RLE counts cover 5 pixels, its size 2 x 3 has 6"):
        decode_rle({"size": [2, 3], "counts": [2, 3]})


def test_image_mask_lands_on_the_box_in_original_pixels():
    box = Letterbox.fit(200, 100, 64)  # scale 0.32, pad_y 16
    mask = image_mask(np.ones((28, 28), np.float32), np.array([16.0, 24.0, 32.0, 16.0]), box)
    ys, xs = np.nonzero(mask)
    assert mask.shape == (100, 200)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (50, 149, 25, 74)  # the box: x 50..150, y 25..75
    assert not image_mask(np.zeros((28, 28), np.float32), np.array([16.0, 24.0, 32.0, 16.0]), box).any()
