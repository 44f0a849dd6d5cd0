"""The realistic look (``--style realistic``): garments as real phone photos show them.

Three kinds of scene, drawn per image from the seeded generator:

* **flat**: one or more garments lying on a bed, carpet, rug, wood floor, tiled floor or table, partly
  overlapping, with wrinkles and soft contact shadows (also the only kind with ``--marker`` or ``--board``);
* **hung**: one garment hanging upright on a hanger, wall peg or clip hanger in front of a wall, casting
  its shadow on it;
* **worn**: an outfit (a top or dress, maybe a jacket over it, maybe trousers, shorts or a skirt) on a
  simple figure standing in front of a wall.

Fabrics come from :mod:`garmentcli.synth.fabrics`, backgrounds from :mod:`garmentcli.synth.rooms`, the
figure from :mod:`garmentcli.synth.figure` and the camera's processing from :mod:`garmentcli.synth.phone`.
The geometry pipeline and the ground truth are the flat-lay ones; what is drawn over a garment (another
garment, a hand, a hanger clip) hides its landmarks in the truth exactly as in the picture.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from garmentcli.measure.board import aruco_dictionary
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import ImageRecord
from garmentcli.synth.camera import look_at, project, scale_at
from garmentcli.synth.charts import GarmentSpec, sample_spec
from garmentcli.synth.deform import random_warp
from garmentcli.synth.details import Stroke, _chain, garment_strokes
from garmentcli.synth.fabrics import sample_fabric, sample_relief
from garmentcli.synth.figure import BodyPart, Figure, build_figure
from garmentcli.synth.geometry import GarmentShape, Part, build_shape
from garmentcli.synth.hang import sample_hanger
from garmentcli.synth.layout import LaidGarment, arrange, fit_board, lay_garment, place_marker, union_box
from garmentcli.synth.markers import draw_markers, quiet_corners
from garmentcli.synth.phone import phone_photo
from garmentcli.synth.presets import scene_params
from garmentcli.synth.prints import sample_print
from garmentcli.synth.render import PlacedGarment, Window, cast_shadow, draw_garment, polygon_alpha
from garmentcli.synth.rooms import room_surface
from garmentcli.synth.texture import looks, noise_patch, pick

if TYPE_CHECKING:
    from garmentcli.synth.scene import Sample

TOPS = (1, 2, 5, 6)
OUTERWEAR = (3, 4)
BOTTOMS = (7, 8, 9)
DRESSES = (10, 11, 12, 13)


def _bands(shape: GarmentShape, rng: np.random.Generator) -> list[Stroke]:
    """Details of the realistic look beyond the flat-lay ones: armhole and shoulder seams, the collar, button
    placket and buttons of a shirt, the ribbed waistband and pouch pocket of a sweater or hoodie, the stand
    collar of a jacket."""
    p, category = shape.points, shape.category_id
    strokes: list[Stroke] = []
    for suffix in ("_l", "_r"):  # armhole and shoulder seams: where a sleeve is sewn on, where the body meets
        if "cuff_outer" + suffix in p and shape.folds.get(suffix, "flat") == "flat":
            armhole = _chain(p, ["shoulder" + suffix, "armpit" + suffix])
            strokes.append(Stroke(armhole, float(rng.uniform(0.2, 0.35)), "seam"))
        if "shoulder" + suffix in p:
            strokes.append(Stroke(_chain(p, ["neck" + suffix, "shoulder" + suffix]), 0.2, "seam"))
    if category in (1, 2) and "neck_front" in p and rng.random() < 0.2:  # a button-up shirt
        front = p["neck_front"]
        for side in (-1.0, 1.0):
            neck = p["neck_r" if side > 0 else "neck_l"]
            tip = front + np.array([side * rng.uniform(2.5, 5.0), rng.uniform(1.0, 4.0)])
            middle = (neck + tip) / 2 + np.array([side * 1.0, 0.5])
            strokes.append(Stroke(np.array([neck, middle, tip]), float(rng.uniform(2.5, 4.0)), "trim"))
        hem = p["hem_center"] if "hem_center" in p else front + np.array([0.0, 60.0])
        half = float(rng.uniform(0.9, 1.5))
        for dx in (-half, half):  # the placket's two seams
            strokes.append(Stroke(np.array([front, hem]) + np.array([dx, 0.0]), 0.12, "stitch"))
        count = int(rng.integers(5, 9))
        buttons = front + (hem - front) * np.linspace(0.08, 0.92, count)[:, None]
        strokes.append(Stroke(buttons, float(rng.uniform(0.9, 1.4)), "button"))
    elif category == 2 and "hem_center" in p and rng.random() < 0.5:  # a sweater or sweatshirt
        strokes.append(Stroke(_chain(p, ["hem_l", "hem_center", "hem_r"]), float(rng.uniform(4.0, 9.0)), "trim"))
        if rng.random() < 0.3:  # a hoodie's pouch pocket
            y = p["hem_center"][1] - rng.uniform(6, 10)
            w, h = rng.uniform(12, 18), rng.uniform(14, 20)
            pouch = np.array([[-w, y], [-w * 0.7, y - h], [w * 0.7, y - h], [w, y]])
            strokes.append(Stroke(pouch, 0.15, "stitch"))
    elif category in (3, 4) and rng.random() < 0.5:  # a jacket's stand collar
        strokes.append(Stroke(_chain(p, ["neck_l", "neck_back", "neck_r"]), float(rng.uniform(4.0, 7.0)), "trim"))
    elif category in DRESSES and rng.random() < 0.6:  # a dress's waist seam
        side = "dress_side_2" if "dress_side_2_l" in p else "vdress_side_2"
        waist = _chain(p, [side + "_l", side + "_r"])
        strokes.append(Stroke(waist, float(rng.uniform(0.2, 0.35)), "seam"))
    return strokes


def shift_shape(shape: GarmentShape, offset: np.ndarray) -> GarmentShape:
    """The same garment moved by ``offset`` cm in its frame (outfits share one frame)."""
    offset = np.asarray(offset, np.float64)
    return GarmentShape(
        shape.category_id,
        shape.landmarks + offset,
        shape.silhouette + offset,
        None if shape.inner is None else shape.inner + offset,
        {k: v + offset for k, v in shape.points.items()},
        [Part(p.outline + offset, p.landmarks, p.name) for p in shape.parts],
        dict(shape.folds),
    )


def realistic_spec(category_id: int, rng: np.random.Generator) -> GarmentSpec:
    """A garment's parameters from the size chart, with the realistic look's ``garment_overrides`` (longer
    shorts with legs apart, mostly closed jackets …) and sleeves that may lie closer to the body."""
    spec = sample_spec(category_id, rng)
    own = scene_params()["realistic"]
    overrides = dict(own["garment_overrides"].get(DF2.category(category_id).name, {}))
    if "sleeve_angle_deg" in spec.style:
        overrides["sleeve_clearance_deg"] = own["flat_sleeve_clearance_deg"]
    measurements, style = dict(spec.measurements), dict(spec.style)
    for key, value in overrides.items():
        drawn = float(rng.uniform(*value)) if isinstance(value, list) else float(value)
        (measurements if key in measurements else style)[key] = drawn
    return replace(spec, measurements=measurements, style=style)


def _upright_spec(
    category_id: int, rng: np.random.Generator, sleeve_angle: float | None, clearance: tuple[float, float]
) -> GarmentSpec:
    """A garment that hangs or is worn: sleeves down (or at ``sleeve_angle``) to within ``clearance`` degrees of
    the body side, never folded, legs close."""
    spec = realistic_spec(category_id, rng)
    style = dict(spec.style)
    if "sleeve_angle_deg" in style:
        if sleeve_angle is None:  # long sleeves hang down; short ones are too stiff and short to, they stand out
            long = DF2.category(category_id).name.startswith("long")
            sleeve_angle = float(rng.uniform(70, 88) if long else rng.uniform(35, 62))
        style["sleeve_angle_deg"] = float(sleeve_angle)
        style["sleeve_clearance_deg"] = float(rng.uniform(*clearance))
        style["sleeve_fold_probability"] = 0.0
        if "sleeve_bend_deg" in style:
            style["sleeve_bend_deg"] = float(rng.uniform(-8, 8))
    if "leg_angle_deg" in style:
        style["leg_angle_deg"] = float(min(style["leg_angle_deg"], rng.uniform(1.5, 7)))
    return replace(spec, style=style)


def _camera(
    size: int, extent: np.ndarray, must_see: list[np.ndarray], rng: np.random.Generator, tilt_max: float
) -> tuple[np.ndarray, float]:
    params, own = scene_params(), scene_params()["realistic"]
    tilt = tilt_max * rng.random() ** params["tilt_shape"]
    azimuth = rng.uniform(0, 360)
    roll = rng.normal(0, params["roll_deg_sd"] * 0.6)
    focal = size * rng.uniform(*params["focal_frames"])
    zoom = not must_see and rng.random() < own["zoom_probability"]
    fill = rng.uniform(*params["zoom_fill" if zoom else "fill"]) if zoom else rng.uniform(*own["fill"])
    target = (extent[:2] + extent[2:]) / 2 + rng.normal(0, 0.03, 2) * (extent[2:] - extent[:2])
    px_per_cm = size * fill / np.max(extent[2:] - extent[:2])
    for _ in range(12):
        homography = look_at(target, px_per_cm, tilt, azimuth, roll, focal, (size, size))
        corners = project(homography, np.concatenate(must_see)) if must_see else np.zeros((0, 2))
        if np.all((corners >= 2) & (corners <= size - 3)):
            break
        px_per_cm *= 0.9
    return homography, float(tilt)


def _placed(g: LaidGarment, homography: np.ndarray, rng: np.random.Generator, mode: str, light: float) -> PlacedGarment:
    name = DF2.category(g.spec.category_id).name
    prior = looks()["realistic"]["categories"][name]
    look, extras = sample_fabric(rng, name)
    box = np.concatenate([g.shape.silhouette.min(axis=0), g.shape.silhouette.max(axis=0)])
    garment_light = light - np.deg2rad(g.warp.rotation_deg)
    relief = sample_relief(rng, box, mode, garment_light, extras.relief)
    if extras.quilt_cm:
        relief = replace(relief, quilt_cm=extras.quilt_cm)
    landmarks_cm = g.warp.apply(g.shape.landmarks)
    inner = None if g.shape.inner is None else project(homography, g.warp.apply(g.shape.inner))
    hole = inner if mode == "worn" and g.spec.category_id not in BOTTOMS else None
    index = DF2.category(g.spec.category_id).index
    behind = (index["neck_back"],) if hole is not None and "neck_back" in index else ()
    return PlacedGarment(
        g.spec.category_id,
        landmarks_cm,
        project(homography, landmarks_cm),
        project(homography, g.table_outline),
        [(project(homography, g.warp.apply(p.outline)), p.landmarks, p.name) for p in g.shape.parts],
        inner,
        g.warp,
        garment_strokes(g.shape, rng) + _bands(g.shape, rng),
        look,
        sample_print(g.shape, rng, prior["chest_print"], prior["logo"]),
        any(fold != "flat" for fold in g.shape.folds.values()),
        extras,
        relief,
        hole,
        behind,
    )


def _shadow(
    image: np.ndarray, garment: PlacedGarment, homography: np.ndarray, rng: np.random.Generator, light: float, kind: str
) -> float:
    """The soft shadow a garment casts away from the light; returns the local px per cm."""
    own = scene_params()["realistic"]
    centre = garment.landmarks_px.mean(axis=0)
    local = scale_at(homography, centre)
    prefix = "hung_" if kind == "hung" else ""
    direction = light + np.pi + rng.normal(0, 0.3)
    offset = rng.uniform(*own[prefix + "shadow_offset_cm"]) * local * np.array([np.cos(direction), np.sin(direction)])
    cast_shadow(
        image,
        [outline for outline, _, _ in garment.parts_px],
        offset,
        rng.uniform(*own[prefix + "shadow_blur_cm"]) * local,
        rng.uniform(*own[prefix + "shadow_strength"]),
    )
    return local


def _fill(
    image: np.ndarray, outline: np.ndarray, colour: np.ndarray, shade_px: float, grain: float, rng: np.random.Generator
) -> None:
    """Paint a closed outline (px) with a colour, rounded shading towards its edges and a little grain."""
    window = Window.around(outline, image.shape)
    if window is None:
        return
    alpha = polygon_alpha(outline, window)
    layer = np.broadcast_to(np.asarray(colour, np.float32), (window.height, window.width, 3))
    if shade_px > 0:
        inside = (alpha > 0.5).astype(np.uint8)
        depth = cv2.distanceTransform(
            cv2.copyMakeBorder(inside, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0), cv2.DIST_L2, 3
        )[1:-1, 1:-1]
        rounded = 0.72 + 0.28 * np.sqrt(np.minimum(depth / shade_px, 1.0))
        layer = layer * rounded[..., None]
    if grain:
        layer = layer + noise_patch(rng, window.height, window.width)[..., None] * np.float32(grain)
    roi = image[window.slices]
    roi += (layer - roi) * alpha[..., None]


def _draw_body(
    image: np.ndarray, parts: list[tuple[BodyPart, np.ndarray]], px_per_cm: float, rng: np.random.Generator
) -> None:
    for part, outline in parts:
        if part.kind == "skin":
            _fill(image, outline, part.colour, 3.5 * px_per_cm, 1.5, rng)
        elif part.kind == "hair":
            _fill(image, outline, part.colour, 2.0 * px_per_cm, 5.0, rng)
        elif part.kind == "shoe":
            _fill(image, outline, part.colour, 1.5 * px_per_cm, 2.0, rng)
        else:
            _fill(image, outline, part.colour, 0.0, 0.0, rng)


def _pick(categories: list[int] | tuple[int, ...], rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Categories drawn as often as real wardrobes hold them (``category_weights``: the square root of
    DeepFashion2's training counts, so that T-shirts are common and short-sleeved jackets rare but present)."""
    weights = scene_params()["realistic"]["category_weights"]
    p = np.array([weights[DF2.category(int(c)).name] for c in categories], np.float64)
    return rng.choice(np.asarray(categories), size=size, p=p / p.sum())


def _choose_mode(config: object, rng: np.random.Generator) -> str:
    if config.marker is not None or config.board is not None:  # type: ignore[attr-defined]
        return "flat"
    roll = rng.random()
    if roll < config.worn_fraction:  # type: ignore[attr-defined]
        return "worn"
    if roll < config.worn_fraction + config.hung_fraction:  # type: ignore[attr-defined]
        return "hung"
    return "flat"


def _outfit(config: object, rng: np.random.Generator) -> list[int]:
    """Categories worn together, outermost first among tops: [outer?, inner?, bottom?] or [dress]."""
    allowed = list(config.categories)  # type: ignore[attr-defined]
    own = scene_params()["realistic"]
    lead = int(_pick(allowed, rng))
    tops = [c for c in allowed if c in TOPS]
    bottoms = [c for c in allowed if c in BOTTOMS]
    outfit = [lead]
    if lead in BOTTOMS:
        upper = [c for c in allowed if c in TOPS or c in OUTERWEAR]
        if upper and rng.random() < own["worn_with_bottom_probability"]:
            outfit = [int(_pick(upper, rng)), lead]
    elif lead in TOPS or lead in OUTERWEAR:
        if lead in OUTERWEAR and tops and rng.random() < own["worn_with_inner_probability"]:
            outfit.append(int(_pick(tops, rng)))
        if bottoms and rng.random() < own["worn_with_bottom_probability"]:
            outfit.append(int(_pick(bottoms, rng)))
    return outfit[: config.max_garments]  # type: ignore[attr-defined]


def _worn_scene(config: object, rng: np.random.Generator) -> tuple[list[tuple[GarmentSpec, GarmentShape]], Figure]:
    """Garments of an outfit in one figure frame, the figure, and the drawing order."""
    own = scene_params()["realistic"]
    outfit = _outfit(config, rng)
    pose_out = rng.random() < 0.3
    sleeve_angle = float(rng.uniform(12, 40)) if pose_out else None
    specs = [_upright_spec(c, rng, sleeve_angle, own["worn_sleeve_clearance_deg"]) for c in outfit]
    shapes = [build_shape(s, rng) for s in specs]
    upper = [i for i, c in enumerate(outfit) if c not in BOTTOMS]
    lower = [i for i, c in enumerate(outfit) if c in BOTTOMS]
    if upper and lower:
        top = shapes[upper[0]]
        waist_y = float(top.points["armpit_l"][1] + rng.uniform(16, 24))
    else:
        waist_y = 45.0
    for i in lower:
        shapes[i] = shift_shape(shapes[i], np.array([0.0, waist_y]))
    tucked = bool(upper and lower and rng.random() < own["tucked_probability"])
    if (
        len(upper) == 2
        and np.hypot(*(shapes[upper[0]].points["hem_open_l"] - shapes[upper[0]].points["hem_open_r"])) < 1
    ):
        upper = upper[:1]  # a closed jacket: nothing to see of a top under it
    figure = build_figure(shapes[upper[0]] if upper else None, shapes[lower[0]] if lower else None, rng, tucked)
    inner, outer = upper[1:], upper[:1]
    order = (inner + outer + lower) if tucked else (lower + inner + outer)
    return [(specs[i], shapes[i]) for i in order], figure


def _record(
    config: object, index: int, garments: list, tilt: float, homography: np.ndarray, markers: list, mode: str
) -> ImageRecord:
    centre_scale = scale_at(homography, np.array([(config.size - 1) / 2] * 2))  # type: ignore[attr-defined]
    return ImageRecord(
        id=index + 1,
        file_name=f"{index + 1:06d}.jpg",
        width=config.size,  # type: ignore[attr-defined]
        height=config.size,  # type: ignore[attr-defined]
        garments=garments,
        extra={
            "source": "user" if mode == "worn" else "shop",
            "pair_id": index + 1,
            "synth": {
                "seed": int(config.seed),  # type: ignore[attr-defined]
                "index": int(index),
                "style": config.style,  # type: ignore[attr-defined]
                "scene": mode,
                "camera_tilt_deg": round(float(tilt), 4),
                "plane_to_image": np.round(homography, 10).tolist(),
                "px_per_cm": round(centre_scale, 6),
                "markers": markers,
                "board": config.board_file,  # type: ignore[attr-defined]
            },
        },
    )


def generate_realistic(config: object, index: int, rng: np.random.Generator) -> Sample:
    """Image ``index`` in the realistic look (see the module docstring); returns a :class:`Sample`."""
    from garmentcli.synth.scene import Sample, _board_overlay, _clutter, _outside_shadow
    from garmentcli.synth.truth import annotate

    params, own = scene_params(), scene_params()["realistic"]
    size = config.size  # type: ignore[attr-defined]
    mode = _choose_mode(config, rng)
    light = float(rng.uniform(0, 2 * np.pi))
    markers: list[tuple[str, int, np.ndarray]] = []
    figure, hanger = None, None
    if mode == "flat":
        weights = np.asarray(own["garment_count_weights"][: config.max_garments], np.float64)  # type: ignore[attr-defined]
        count = 1 + int(rng.choice(len(weights), p=weights / weights.sum()))
        categories = [int(c) for c in _pick(config.categories, rng, count)]  # type: ignore[attr-defined]
        laid = arrange(
            [
                lay_garment(c, rng, own["flat_deformation_strength"], realistic_spec(c, rng), own["flat_turn"])
                for c in categories
            ],
            rng,
            float(rng.uniform(*own["overlap_max"])),
        )
        if config.board is not None:  # type: ignore[attr-defined]
            board = config.board  # type: ignore[attr-defined]
            laid = fit_board(laid, board, rng)
            markers = [(board.dictionary, i, c) for i, c in sorted(board.markers.items())]
            extent = np.asarray(board.extent())
        else:
            garments_box = union_box([g.box for g in laid])
            if config.marker is not None:  # type: ignore[attr-defined]
                spec = config.marker  # type: ignore[attr-defined]
                markers = [(spec.dictionary, spec.id, place_marker(spec, garments_box, rng))]
            extent = union_box([garments_box] + [np.concatenate([c.min(axis=0), c.max(axis=0)]) for _, _, c in markers])
        tilt_max = min(config.tilt_max_deg, own["flat_tilt_max_deg"])  # type: ignore[attr-defined]
    elif mode == "hung":
        category = int(_pick(config.categories, rng))  # type: ignore[attr-defined]
        spec = _upright_spec(category, rng, None, own["hung_sleeve_clearance_deg"])
        shape = build_shape(spec, rng)
        warp = random_warp(shape.silhouette, rng, rng.uniform(*own["hung_deformation_strength"]))
        warp = warp.placed(float(rng.normal(0, 1.5)), np.zeros(2))
        laid = [LaidGarment(spec, shape, warp, warp.apply(shape.silhouette))]
        hanger = sample_hanger(shape, rng)
        extent = union_box([laid[0].box, np.concatenate([warp.apply(np.array([[0.0, hanger.top_y]]))[0]] * 2)])
        tilt_max = min(config.tilt_max_deg, own["upright_tilt_max_deg"])  # type: ignore[attr-defined]
    else:
        worn, figure = _worn_scene(config, rng)
        frame = np.concatenate([s.silhouette for _, s in worn])
        warp = random_warp(frame, rng, rng.uniform(*own["worn_deformation_strength"]))
        warp = warp.placed(float(rng.normal(0, 1.5)), np.zeros(2))
        laid = [LaidGarment(sp, sh, warp, warp.apply(sh.silhouette)) for sp, sh in worn]
        extent = union_box([g.box for g in laid])
        if rng.random() < own["worn_head_probability"]:
            extent[1] = min(extent[1], warp.apply(np.array([[0.0, figure.head_top]]))[0, 1])
        if rng.random() < own["worn_feet_probability"]:
            extent[3] = max(extent[3], warp.apply(np.array([[0.0, figure.soles]]))[0, 1])
        tilt_max = min(config.tilt_max_deg, own["upright_tilt_max_deg"])  # type: ignore[attr-defined]
    quiet = params["marker_quiet_cells"]
    squares_cm = [quiet_corners(c, aruco_dictionary(d).markerSize + 2, quiet) for d, _, c in markers]
    homography, tilt = _camera(size, extent, squares_cm, rng, tilt_max)
    if mode == "flat":
        image = room_surface(pick(own["flat_backgrounds"], rng), homography, size, rng, light)
        _board_overlay(image, config, homography, rng)
        if rng.random() < own["clutter_probability"]:
            _clutter(image, homography, union_box([g.box for g in laid]), rng)
    else:
        floor = None
        if figure is not None:
            floor = float(laid[0].warp.apply(np.array([[0.0, figure.soles - rng.uniform(4, 20)]]))[0, 1])
        image = room_surface("wall", homography, size, rng, light, extent, floor)
    placed = [_placed(g, homography, rng, mode, light) for g in laid]
    covers: list[tuple[int, np.ndarray]] = []
    local = scale_at(homography, np.array([(size - 1) / 2] * 2))
    if figure is not None:
        body = [(part, project(homography, laid[0].warp.apply(part.outline))) for part in figure.parts]
        everything = [o for _, o in body] + [o for g in placed for o, _, _ in g.parts_px]
        cast_shadow(
            image,
            everything,
            local * rng.uniform(1, 3) * np.array([np.cos(light + np.pi), np.sin(light + np.pi)]),
            local * rng.uniform(3, 7),
            rng.uniform(0.1, 0.25),
        )
        _draw_body(image, [b for b in body if b[0].layer == "back"], local, rng)
        mid = [b for b in body if b[0].layer == "mid"]  # hands over the bottom (and an inner top), under the top
        for i, garment in enumerate(placed):
            if mid and i == len(placed) - 1:
                _draw_body(image, mid, local, rng)
                covers += [(i, outline) for _, outline in mid]
                mid = []
            draw_garment(image, homography, garment, scale_at(homography, garment.landmarks_px.mean(axis=0)), rng)
        front = [b for b in body if b[0].layer == "front"] + mid
        _draw_body(image, front, local, rng)
        covers += [(len(placed), outline) for _, outline in front]
    else:
        if hanger is not None:
            behind = [project(homography, laid[0].warp.apply(o)) for o in hanger.behind]
            cast_shadow(image, behind, local * np.array([0.6, 0.9]), local * 0.6, 0.3)
            for outline in behind:
                _fill(image, outline, hanger.colour, 0.4 * local, 1.0, rng)
        for garment in placed:
            px_per_cm = _shadow(image, garment, homography, rng, light, mode)
            if mode == "flat":  # where the cloth touches the surface: a thin dark rim
                outlines = [outline for outline, _, _ in garment.parts_px]
                cast_shadow(image, outlines, np.zeros(2), rng.uniform(0.2, 0.5) * px_per_cm, rng.uniform(0.2, 0.4))
            draw_garment(image, homography, garment, px_per_cm, rng)
        if hanger is not None:
            for outline_cm in hanger.front:
                outline = project(homography, laid[0].warp.apply(outline_cm))
                _fill(image, outline, hanger.colour * 0.9, 0.4 * local, 1.0, rng)
                covers.append((len(placed), outline))
    marker_truth = draw_markers(image, homography, markers, quiet)
    effects = config.photo_effects  # type: ignore[attr-defined]
    if effects and mode == "flat" and rng.random() < own["outside_shadow_probability"]:
        _outside_shadow(image, rng)
    occluders = [project(homography, s) for s in squares_cm]
    photo = phone_photo(image, rng, own, light) if effects else np.clip(image, 0, 255, out=image).astype(np.uint8)
    garments = annotate(placed, [g.spec for g in laid], occluders, size, covers, 2 if mode == "worn" else 1)
    record = _record(config, index, garments, tilt, homography, marker_truth, mode)
    quality = int(rng.integers(*own["jpeg_quality"])) if effects else 95
    return Sample(photo, record, placed, homography, occluders, quality, covers)
