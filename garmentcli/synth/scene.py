"""One synthetic photo and its ground truth: garments laid out on a table, a camera, markers, truth.

:func:`generate` is a pure function of ``(config, index)``: its random generator is seeded from
``(config.seed, index)`` alone, so images do not depend on worker count or order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from garmentcli.errors import InputError
from garmentcli.measure.board import BoardLayout, aruco_dictionary
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import ImageRecord
from garmentcli.synth.camera import look_at, project, scale_at
from garmentcli.synth.details import garment_strokes
from garmentcli.synth.layout import arrange, fit_board, lay_garment, place_marker, union_box
from garmentcli.synth.markers import MarkerSpec, draw_markers, quiet_corners
from garmentcli.synth.presets import scene_params
from garmentcli.synth.prints import sample_decal
from garmentcli.synth.render import PlacedGarment, Window, cast_shadow, draw_garment, finish_photo, polygon_alpha
from garmentcli.synth.texture import looks, random_colour, sample_look, surface
from garmentcli.synth.truth import annotate

STYLES = ("realistic", "flatlay-v1")
"""The looks ``generate`` can render (``--style``)."""


@dataclass(frozen=True)
class SynthConfig:
    """What to generate; every image is a function of this and its index."""

    seed: int = 0
    size: int = 512
    categories: tuple[int, ...] = tuple(DF2.ids)
    max_garments: int = 3
    tilt_max_deg: float = 30.0
    marker: MarkerSpec | None = None
    board: BoardLayout | None = None
    board_file: str | None = None
    photo_effects: bool = True
    """Lighting, blur and noise (tests of exact geometry turn them off)."""
    style: str = "realistic"
    """The look: ``realistic`` (rooms, hangers, worn figures, fabrics, phone camera) or ``flatlay-v1`` (the first
    generator's flat-lays on plain tables, kept as it was)."""
    worn_fraction: float = 0.25
    """Realistic look: share of images with the garments worn on a figure."""
    hung_fraction: float = 0.25
    """Realistic look: share of images with a garment hung on a hanger or hook."""

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise InputError(f"--style: {self.style!r} is not one of {', '.join(STYLES)}")
        for name in ("worn_fraction", "hung_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"--{name.replace('_', '-')}: {value} is not between 0 and 1")
        if self.worn_fraction + self.hung_fraction > 1.0 + 1e-9:
            raise InputError(
                f"--worn-fraction + --hung-fraction: {self.worn_fraction} + {self.hung_fraction} is more than 1"
            )


@dataclass
class Sample:
    """A generated image, its record, and the scene behind it (for tests and debugging)."""

    image: np.ndarray
    record: ImageRecord
    garments: list[PlacedGarment]
    homography: np.ndarray
    occluders_px: list[np.ndarray] = field(default_factory=list)
    """Marker paper squares drawn over the garments (image px)."""
    jpeg_quality: int = 95
    covers_px: list[tuple[int, np.ndarray]] = field(default_factory=list)
    """Other things drawn over garments (a worn figure's hands and arms, hanger clips): ``(after, outline px)``,
    drawn after the first ``after`` garments (see :func:`garmentcli.synth.truth.annotate`)."""

    def encode(self) -> bytes:
        """The image as JPEG bytes at the sampled quality (deterministic)."""
        ok, data = cv2.imencode(".jpg", self.image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR array
            raise RuntimeError("JPEG encoding failed")
        return data.tobytes()


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of image ``index``: depends on ``(seed, index)`` only."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def board_layout(marker: MarkerSpec | None) -> BoardLayout:
    """The table used with ``--board``: four markers near its corners (marker kind from ``--marker`` if given)."""
    params = scene_params()
    width, height = params["board_table_cm"]
    spec = marker or MarkerSpec(size_cm=params["board_marker_cm"])
    return BoardLayout.table_corners(width, height, spec.size_cm, spec.dictionary, spec.id)


def _camera(
    config: SynthConfig, extent: np.ndarray, must_see: list[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    params = scene_params()
    size = config.size
    tilt = config.tilt_max_deg * rng.random() ** params["tilt_shape"]
    azimuth = rng.uniform(0, 360)
    roll = rng.normal(0, params["roll_deg_sd"])
    focal = size * rng.uniform(*params["focal_frames"])
    zoom = not must_see and rng.random() < params["zoom_probability"]
    fill = rng.uniform(*params["zoom_fill" if zoom else "fill"])
    target = (extent[:2] + extent[2:]) / 2 + rng.normal(0, 0.03, 2) * (extent[2:] - extent[:2])
    px_per_cm = size * fill / np.max(extent[2:] - extent[:2])
    for _ in range(12):
        homography = look_at(target, px_per_cm, tilt, azimuth, roll, focal, (size, size))
        corners = project(homography, np.concatenate(must_see)) if must_see else np.zeros((0, 2))
        if np.all((corners >= 2) & (corners <= size - 3)):
            break
        px_per_cm *= 0.9
    return homography, tilt


def _clutter(image: np.ndarray, homography: np.ndarray, extent: np.ndarray, rng: np.random.Generator) -> None:
    """A few small flat objects on the table (cards, tags, coins), drawn under the garments."""
    low, high = scene_params()["clutter_count"]
    for _ in range(int(rng.integers(low, high + 1))):
        centre = rng.uniform(extent[:2] - 10, extent[2:] + 10)
        if rng.random() < 0.5:
            angle = np.linspace(0, 2 * np.pi, 24, endpoint=False)
            radius = rng.uniform(1, 5)
            shape = np.stack([np.cos(angle), np.sin(angle) * rng.uniform(0.6, 1)], axis=1) * radius
        else:
            w, h = rng.uniform(3, 16, 2)
            shape = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
        turn = rng.uniform(0, np.pi)
        shape = shape @ np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]).T + centre
        outline = project(homography, shape)
        window = Window.around(outline, image.shape)
        if window is None:
            continue
        cast_shadow(image, [outline], rng.uniform(0.5, 3.0, 2), rng.uniform(1.0, 4.0), rng.uniform(0.1, 0.35))
        alpha = polygon_alpha(outline, window)[..., None]
        roi = image[window.slices]
        roi += (random_colour(rng, 0.3) - roi) * alpha


def _outside_shadow(image: np.ndarray, rng: np.random.Generator) -> None:
    """The soft shadow of something outside the picture (the photographer, a lamp arm) reaching in from an edge."""
    size = image.shape[0]
    angle = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    radius = size * rng.uniform(0.25, 0.6, 2)
    edge = rng.uniform(0, 2 * np.pi)
    centre = size / 2 + size * 0.6 * np.array([np.cos(edge), np.sin(edge)])
    blob = centre + np.stack([np.cos(angle) * radius[0], np.sin(angle) * radius[1]], axis=1)
    strength = rng.uniform(*scene_params()["outside_shadow_strength"])
    cast_shadow(image, [blob], np.zeros(2), size * rng.uniform(0.04, 0.12), strength)


def _background(config: SynthConfig, homography: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = surface(homography, (0, 0, config.size, config.size), rng)
    _board_overlay(image, config, homography, rng)
    return image


def _board_overlay(image: np.ndarray, config: SynthConfig, homography: np.ndarray, rng: np.random.Generator) -> None:
    """With ``--board``: the marked table's paper sheet, drawn over the background."""
    if config.board is not None:
        lo_x, lo_y, hi_x, hi_y = config.board.extent()
        margin = 1.0
        table = (
            np.array([[lo_x, lo_y], [hi_x, lo_y], [hi_x, hi_y], [lo_x, hi_y]])
            + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * margin
        )
        outline = project(homography, table)
        window = Window.around(outline, image.shape)
        if window is not None:
            alpha = polygon_alpha(outline, window)[..., None]
            colours = looks()["board_colours"]
            colour = np.asarray(colours[int(rng.integers(len(colours)))], np.float32)[::-1]
            board = surface(homography, (window.x0, window.y0, window.width, window.height), rng, "paper")
            board *= colour / 235.0
            roi = image[window.slices]
            roi += (board - roi) * alpha


def generate(config: SynthConfig, index: int) -> Sample:
    """Image ``index`` of the dataset described by ``config``."""
    rng = image_rng(config.seed, index)
    if config.style != "flatlay-v1":
        from garmentcli.synth.realistic import generate_realistic

        return generate_realistic(config, index, rng)
    params = scene_params()
    weights = np.asarray(params["garment_count_weights"][: config.max_garments], dtype=np.float64)
    count = 1 + int(rng.choice(len(weights), p=weights / weights.sum()))
    categories = [int(c) for c in rng.choice(config.categories, size=count)]
    laid = arrange([lay_garment(c, rng) for c in categories], rng)
    markers: list[tuple[str, int, np.ndarray]] = []
    if config.board is not None:
        laid = fit_board(laid, config.board, rng)
        markers = [(config.board.dictionary, i, c) for i, c in sorted(config.board.markers.items())]
        extent = np.asarray(config.board.extent())
    else:
        garments_box = union_box([g.box for g in laid])
        if config.marker is not None:
            spec = config.marker
            markers = [(spec.dictionary, spec.id, place_marker(spec, garments_box, rng))]
        extent = union_box([garments_box] + [np.concatenate([c.min(axis=0), c.max(axis=0)]) for _, _, c in markers])
    quiet = params["marker_quiet_cells"]
    squares_cm = [quiet_corners(c, aruco_dictionary(d).markerSize + 2, quiet) for d, _, c in markers]
    homography, tilt = _camera(config, extent, squares_cm, rng)
    image = _background(config, homography, rng)
    _clutter(image, homography, union_box([g.box for g in laid]), rng)
    centre_scale = scale_at(homography, np.array([(config.size - 1) / 2] * 2))
    placed = []
    for g in laid:
        look = sample_look(rng, DF2.category(g.spec.category_id).name in ("shorts", "trousers", "skirt"))
        landmarks_cm = g.warp.apply(g.shape.landmarks)
        placed.append(
            PlacedGarment(
                g.spec.category_id,
                landmarks_cm,
                project(homography, landmarks_cm),
                project(homography, g.table_outline),
                [(project(homography, g.warp.apply(p.outline)), p.landmarks, p.name) for p in g.shape.parts],
                None if g.shape.inner is None else project(homography, g.warp.apply(g.shape.inner)),
                g.warp,
                garment_strokes(g.shape, rng),
                look,
                sample_decal(g.shape, rng),
                any(fold != "flat" for fold in g.shape.folds.values()),
            )
        )
    for garment, g in zip(placed, laid, strict=True):
        centre = (g.box[:2] + g.box[2:]) / 2
        local_scale = scale_at(homography, project(homography, centre))
        direction = rng.uniform(0, 2 * np.pi)
        offset = (
            rng.uniform(*params["shadow_offset_cm"]) * local_scale * np.array([np.cos(direction), np.sin(direction)])
        )
        cast_shadow(
            image,
            [outline for outline, _, _ in garment.parts_px],
            offset,
            rng.uniform(*params["shadow_blur_cm"]) * local_scale,
            rng.uniform(*params["shadow_strength"]),
        )
        draw_garment(image, homography, garment, local_scale, rng)
    marker_truth = draw_markers(image, homography, markers, quiet)
    if config.photo_effects and rng.random() < params["outside_shadow_probability"]:
        _outside_shadow(image, rng)
    occluders = [project(homography, s) for s in squares_cm]
    photo = finish_photo(image, rng, params, config.photo_effects)
    garments = annotate(placed, [g.spec for g in laid], occluders, config.size)
    record = ImageRecord(
        id=index + 1,
        file_name=f"{index + 1:06d}.jpg",
        width=config.size,
        height=config.size,
        garments=garments,
        extra={
            "source": "shop",
            "pair_id": index + 1,
            "synth": {
                "seed": int(config.seed),
                "index": int(index),
                "camera_tilt_deg": round(float(tilt), 4),
                "plane_to_image": np.round(homography, 10).tolist(),
                "px_per_cm": round(centre_scale, 6),
                "markers": marker_truth,
                "board": config.board_file,
            },
        },
    )
    quality = int(rng.integers(*params["jpeg_quality"])) if config.photo_effects else 95
    return Sample(photo, record, placed, homography, occluders, quality)
