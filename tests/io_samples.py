"""Sample annotation sets and comparisons shared by the io, viz and convert/draw tests."""

from __future__ import annotations

import numpy as np

from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord


def sample_garment(category_id: int, rng: np.random.Generator, *, score: float | None = None, **kwargs) -> Garment:
    """A garment with random in-image landmarks, every visibility code, and a box around them."""
    count = DF2.category(category_id).num_landmarks
    xy = rng.uniform(20, 300, size=(count, 2)).round(2)
    v = np.resize([2.0, 1.0, 0.0], count) if score is None else rng.uniform(0.05, 1, count).round(3)
    landmarks = np.column_stack([xy, v])
    landmarks[v == 0, :2] = 0
    box = [10.5, 12.25, 300.0, 310.75]
    return Garment(category_id, box, landmarks, score=score, **kwargs)


def sample_set(seed: int = 0, *, scores: bool = False) -> AnnotationSet:
    """Three images: two garments with attributes, extras and segmentation; one of another category; one empty."""
    rng = np.random.default_rng(seed)

    def score() -> float | None:
        return round(float(rng.uniform(0.1, 1)), 4) if scores else None

    first = ImageRecord(
        1,
        "000001.jpg",
        400,
        420,
        [
            sample_garment(
                1,
                rng,
                score=score(),
                id=11,
                segmentation=[[10.0, 10.0, 50.0, 10.0, 50.0, 60.0]],
                attributes={"style": 1, "scale": 2, "occlusion": 1, "zoom_in": 1, "viewpoint": 2},
                extra={"note": "hand labelled", "tags": [1, 2]},
            ),
            sample_garment(8, rng, score=score(), id=12, attributes={"style": 0, "scale": 3}),
        ],
        extra={"source": "shop", "pair_id": 7, "synth": {"seed": 3, "px_per_cm": 12.5}},
    )
    second = ImageRecord(2, "000002.jpg", 320, 330, [sample_garment(11, rng, score=score(), id=13)], {"pair_id": 8})
    empty = ImageRecord(3, "000003.jpg", 100, 120, [], {"source": "user"})
    return AnnotationSet([first, second, empty])


def assert_garments_equal(a: Garment, b: Garment, *, extra: bool = True, ids: bool = True) -> None:
    assert a.category_id == b.category_id
    np.testing.assert_allclose(a.bbox, b.bbox, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert a.score == b.score
    assert a.attributes == b.attributes
    if ids:
        assert a.id == b.id
    if extra:
        assert a.extra == b.extra
        assert a.segmentation == b.segmentation


def assert_sets_equal(a: AnnotationSet, b: AnnotationSet, *, extra: bool = True, ids: bool = True) -> None:
    """Equal images and garments; ``extra=False`` skips extra keys and segmentation (formats without them)."""
    assert [(i.id, i.file_name, i.width, i.height) for i in a] == [(i.id, i.file_name, i.width, i.height) for i in b]
    for left, right in zip(a.images, b.images, strict=True):
        if extra:
            assert left.extra == right.extra
        assert len(left.garments) == len(right.garments)
        for g, h in zip(left.garments, right.garments, strict=True):
            assert_garments_equal(g, h, extra=extra, ids=ids)


def assert_same_set(a: AnnotationSet, b: AnnotationSet, tol: float) -> None:
    """Same images (by file name, id), same garments: category, box and landmarks within tol, same flags."""
    by_name = {r.file_name: r for r in b}
    assert sorted(by_name) == sorted(r.file_name for r in a)
    for ra in a:
        rb = by_name[ra.file_name]
        assert (rb.id, rb.width, rb.height) == (ra.id, ra.width, ra.height)
        assert [g.category_id for g in rb.garments] == [g.category_id for g in ra.garments]
        for ga, gb in zip(ra.garments, rb.garments, strict=True):
            np.testing.assert_allclose(gb.bbox, ga.bbox, atol=tol)
            np.testing.assert_allclose(gb.landmarks[:, :2], ga.landmarks[:, :2], atol=tol)
            assert gb.landmarks[:, 2].tolist() == ga.landmarks[:, 2].tolist()


def coco_dict(aset: AnnotationSet) -> dict:
    """What ``write_coco`` writes for ``aset``, parsed back."""
    return _written(aset, "coco")


def result_list(aset: AnnotationSet) -> list[dict]:
    """What ``write_results`` writes for ``aset``, parsed back."""
    return _written(aset, "results")


def _written(aset: AnnotationSet, fmt: str):
    import json
    import tempfile
    from pathlib import Path

    from garmentcli.io.coco import write_coco, write_results

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.json"
        (write_coco if fmt == "coco" else write_results)(aset, path)
        return json.loads(path.read_text())
