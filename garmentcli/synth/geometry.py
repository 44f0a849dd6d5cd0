"""Garment geometry from measurements: every landmark and shaping point of a flat garment, in cm.

The garment frame has x to the viewer's right, y down, the centre line at x = 0 and the top of
the garment (high point shoulder, strap top or waist) at y = 0. A builder per family (tops and
dresses, trousers and shorts, skirts) places the named points from a :class:`GarmentSpec`;
:func:`build_shape` then strings them into dense outlines following ``templates.json`` so that
every landmark is a vertex of its outline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from garmentcli.schema.layout import DF2
from garmentcli.synth.charts import GarmentSpec
from garmentcli.synth.curves import smooth_chain

Points = dict[str, np.ndarray]
Folds = dict[str, str]
"""Per side suffix (``_l``, ``_r``): how a sleeve lies, ``flat``, folded to the ``front`` or to the ``back``."""
Vias = dict[tuple[str, str], list[tuple[np.ndarray, bool]]]
"""Shaping points between two consecutive outline names: ``(point, is_corner)`` in travel order."""


@dataclass(frozen=True)
class Part:
    """A piece of the garment drawn as one filled outline (the body, a sleeve)."""

    outline: np.ndarray
    """Dense closed outline (cm)."""
    landmarks: tuple[int, ...]
    """The category's landmarks that are vertices of this outline."""
    name: str = "whole"
    """``whole``, ``body``, ``sleeve_l`` or ``sleeve_r``."""


@dataclass
class GarmentShape:
    """A flat garment in its own frame (cm): landmarks, outlines and every named point."""

    category_id: int
    landmarks: np.ndarray
    """``(K, 2)`` in dataset order."""
    silhouette: np.ndarray
    """Dense closed outline of the garment mask, ``(M, 2)``; every silhouette landmark is a vertex."""
    inner: np.ndarray | None
    """Dense closed outline of the visible inside of the back (neck opening, open front), or None."""
    points: Points
    """Every named point (landmarks and construction points) for drawing details."""
    parts: list[Part]
    """The pieces in drawing order (a sleeve folded behind the body comes first); their union is the garment."""
    folds: Folds


@cache
def templates() -> dict[str, Any]:
    """The bundled ``templates.json``, parsed once."""
    return json.loads(resources.files("garmentcli.synth").joinpath("templates.json").read_text("utf-8"))


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


def _xy(x: float, y: float) -> np.ndarray:
    return np.array([x, y], dtype=np.float64)


def _mirror(point: np.ndarray) -> np.ndarray:
    return np.array([-point[0], point[1]])


def _rotate_about(points: np.ndarray, centre: np.ndarray, angle: float) -> np.ndarray:
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (points - centre) @ rotation.T + centre


def _bend_forearm(points: Points, armpit: np.ndarray, side: np.ndarray, bend_deg: float) -> None:
    """Bend a long sleeve at the elbow by up to ``bend_deg`` (in place), less if the forearm would reach the body."""
    forearm = ["sleeve_outer_3_l", "cuff_outer_l", "cuff_inner_l", "sleeve_inner_3_l"]
    elbow = (points["sleeve_outer_2_l"] + points["sleeve_inner_2_l"]) / 2
    original = np.array([points[n] for n in forearm])
    for angle in np.deg2rad(np.linspace(bend_deg, 0.0, 6)):
        bent = _rotate_about(original, elbow, angle)
        offset = bent - armpit
        if np.all(side[0] * offset[:, 1] - side[1] * offset[:, 0] > 2.0):  # stays outside the body side
            points.update(dict(zip(forearm, bent, strict=True)))
            return


def _sleeve(
    shoulder: np.ndarray,
    armpit: np.ndarray,
    side_below: np.ndarray,
    m: dict[str, float],
    angle_deg: float,
    long: bool,
    bend_deg: float = 0.0,
    clearance_deg: float = 30.0,
) -> Points:
    """Left sleeve points: a tapered tube hinged at the shoulder/armpit, ``angle_deg`` below horizontal.

    The angle is reduced until the inner edge clears the body side by ``clearance_deg``, so the sleeve never
    lies on the body; a long sleeve is then bent at the elbow by ``bend_deg`` where it stays clear.
    """
    length, opening = m["sleeve_length"], m["sleeve_opening"]
    side = (side_below - armpit) / max(np.hypot(*(side_below - armpit)), 1e-9)
    for angle in np.deg2rad(np.arange(angle_deg, -30.0, -3.0)):
        d = np.array([-np.cos(angle), np.sin(angle)])
        n = np.array([np.sin(angle), np.cos(angle)])
        cuff_outer = shoulder + length * d
        cuff_inner = cuff_outer + opening * n
        inner = cuff_inner - armpit
        inner_unit = inner / max(np.hypot(*inner), 1e-9)
        clears = side[0] * inner_unit[1] - side[1] * inner_unit[0] > np.sin(np.deg2rad(clearance_deg))
        if clears and inner @ d > 0.3 * length:
            break
    points = {"cuff_outer_l": cuff_outer, "cuff_inner_l": cuff_inner}
    if long:
        for k in (1, 2, 3):
            points[f"sleeve_outer_{k}_l"] = _lerp(shoulder, cuff_outer, k / 4)
            points[f"sleeve_inner_{k}_l"] = _lerp(armpit, cuff_inner, k / 4)
    else:
        points["sleeve_outer_l"] = _lerp(shoulder, cuff_outer, 0.5)
        points["sleeve_inner_l"] = _lerp(armpit, cuff_inner, 0.5)
    if long and bend_deg:
        _bend_forearm(points, armpit, side, np.sign(bend_deg) * min(abs(bend_deg), 30.0))
    return points


def _neckline(neck: np.ndarray, front: np.ndarray, roundness: float) -> np.ndarray:
    """The front neckline's midpoint: on a quarter ellipse (round) or the straight line (V), blended."""
    round_point = _xy(neck[0] * np.cos(np.pi / 4), neck[1] + (front[1] - neck[1]) * np.sin(np.pi / 4))
    return _lerp(_lerp(neck, front, 0.5), round_point, roundness)


def _body_sides(body: str, armpit: np.ndarray, hem: np.ndarray, m: dict[str, float], s: dict[str, float]) -> Points:
    """Left side seam points between armpit and hem for a body style."""
    shaping = s.get("side_shaping_cm", 0.0)
    if body == "shirt":
        return {
            "top_side_1_l": _lerp(armpit, hem, 1 / 3) + _xy(shaping, 0),
            "top_side_2_l": _lerp(armpit, hem, 2 / 3) + _xy(0.7 * shaping, 0),
        }
    if body == "vest":
        return {"vest_side_1_l": _lerp(armpit, hem, 0.5) + _xy(shaping, 0)}
    waist = _xy(-m["waist_width"] / 2, m["waist_drop"])
    hip = _xy(-m["hip_width"] / 2, m["hip_drop"])
    bust = _xy((armpit[0] + waist[0]) / 2, (armpit[1] + waist[1]) / 2)
    if body == "dress":
        return {
            "dress_side_1_l": bust,
            "dress_side_2_l": waist,
            "dress_side_3_l": hip,
            "dress_side_4_l": _lerp(hip, hem, 0.5),
        }
    return {"vdress_side_1_l": bust, "vdress_side_2_l": waist, "vdress_side_3_l": hip}


def _sanitise_top(m: dict[str, float], body: str, strap: bool) -> None:
    """Keep sampled measurements mutually consistent (a garment that can exist)."""
    m["front_neck_depth"] = max(m["front_neck_depth"], m["back_neck_depth"] + 2.0)
    if "shoulder_width" in m:
        m["shoulder_width"] = max(m["shoulder_width"], m["neck_width"] + 8.0)
        m["chest_width"] = max(m["chest_width"], m["shoulder_width"] * (0.75 if body in ("vest", "vdress") else 0.95))
    m["neck_width"] = min(m["neck_width"], m["chest_width"] - 10.0)
    top = m.get("strap_length", 0.0) if strap else 0.0
    armpit_y = top + m["armhole_depth"]
    if body in ("dress", "vdress"):
        m["waist_drop"] = max(m["waist_drop"], armpit_y + 8.0)
        m["hip_drop"] = max(m["hip_drop"], m["waist_drop"] + 10.0)
        m["body_length"] = max(m["body_length"], m["hip_drop"] + 12.0)
        m["hem_width"] = max(m["hem_width"], 0.9 * m["hip_width"])
    else:
        m["body_length"] = max(m["body_length"], armpit_y + 12.0)


def _reflect(points: Points, a: np.ndarray, b: np.ndarray) -> Points:
    """Mirror points across the line through ``a`` and ``b`` (a sleeve folded over along its armhole seam)."""
    u = (b - a) / max(np.hypot(*(b - a)), 1e-9)
    mirror = 2 * np.outer(u, u) - np.eye(2)
    return {name: a + mirror @ (p - a) for name, p in points.items()}


def _top(spec: GarmentSpec, options: dict[str, Any], rng: np.random.Generator) -> tuple[Points, Vias, Folds]:
    m, s = dict(spec.measurements), spec.style
    body, strap = options["body"], options["strap"]
    _sanitise_top(m, body, strap)
    top = m["strap_length"] if strap else 0.0
    nw = m["neck_width"] / 2
    neck = _xy(-nw, top)
    armpit = _xy(-m["chest_width"] / 2, top + m["armhole_depth"])
    hem = _xy(-m["hem_width"] / 2, m["body_length"])
    left: Points = {"neck_l": neck, "armpit_l": armpit, "hem_l": hem}
    center: Points = {
        "neck_back": _xy(0, top + m["back_neck_depth"]),
        "hem_center": _xy(0, m["body_length"] + s.get("hem_curve_cm", 0)),
    }
    vias: Vias = {}
    if strap:
        width = m["strap_width"]
        strap_top = _xy(-nw - s.get("strap_lean_cm", 0.0), 0)
        left["strap_l"] = strap_top
        outer_bottom = neck + _xy(-width, 0.2 * width)
        vias[("strap_l", "armpit_l")] = [
            (strap_top + _xy(-width, 0), True),
            (outer_bottom, False),
            (outer_bottom + (armpit - outer_bottom) * np.array([0.55, 0.9]), False),
        ]
    else:
        shoulder = _xy(-m["shoulder_width"] / 2, m["shoulder_drop"])
        left["shoulder_l"] = shoulder
        if options["sleeve"] == "none":
            scoop = _lerp(shoulder, armpit, 0.55) + _xy(s.get("armhole_scoop_cm", 2.0), 0)
            vias[("shoulder_l", "armpit_l")] = [(scoop, False)]
    left.update(_body_sides(body, armpit, hem, m, s))
    below = ("top_side_1_l", "vest_side_1_l", "dress_side_1_l", "vdress_side_1_l")
    side_below = next((left[name] for name in below if name in left), hem)
    if options["opening"]:
        is_open = rng.random() < s["open_probability"]
        gap_top = s["open_gap_top_cm"] if is_open else 0.0
        gap_bottom = gap_top + s["open_gap_widen_cm"] if is_open else 0.0
        opening_top = _xy(-gap_top / 2, top + m["front_neck_depth"])
        opening_bottom = _xy(-gap_bottom / 2, m["body_length"])
        left["neckline_l"] = _xy(-nw + 0.35 * (nw - gap_top / 2), top + 0.45 * m["front_neck_depth"])
        left["neckline_open_l"] = opening_top
        left["open_upper_l"] = _lerp(opening_top, opening_bottom, 1 / 3)
        left["open_lower_l"] = _lerp(opening_top, opening_bottom, 2 / 3)
        left["hem_open_l"] = opening_bottom
    else:
        front = _xy(0, top + m["front_neck_depth"])
        center["neck_front"] = front
        left["neckline_l"] = _neckline(neck, front, s.get("neck_roundness", 1.0))
    points = dict(center)
    folds: Folds = {}
    for sign, suffix in ((1.0, "_l"), (-1.0, "_r")):
        side = {k[:-2] + suffix: (v if sign > 0 else _mirror(v)) for k, v in left.items()}
        folds[suffix] = "flat"
        if options["sleeve"] != "none":
            angle = float(s["sleeve_angle_deg"] + rng.normal(0, 6))
            bend = s.get("sleeve_bend_deg", 0.0)
            bend = float(bend + rng.normal(0, 6)) if bend else 0.0  # each side bends its own way
            folded = rng.random() < s.get("sleeve_fold_probability", 0.0)
            # a sleeve folded over along its seam keeps 30 degrees from the body, or its mirror image is a sliver
            clearance = 30.0 if folded else float(s.get("sleeve_clearance_deg", 30.0))
            sleeve = _sleeve(
                left["shoulder_l"], armpit, side_below, m, angle, options["sleeve"] == "long", bend, clearance
            )
            if folded:
                sleeve = _reflect(sleeve, left["shoulder_l"], armpit)
                folds[suffix] = "front" if rng.random() < 0.5 else "back"
            side.update({k[:-2] + suffix: (v if sign > 0 else _mirror(v)) for k, v in sleeve.items()})
        points.update(side)
    for (a, b), chain in list(vias.items()):
        vias[(a[:-2] + "_r", b[:-2] + "_r")] = [(_mirror(p), corner) for p, corner in chain]
    return points, vias, folds


def _bottoms(spec: GarmentSpec, options: dict[str, Any], rng: np.random.Generator) -> tuple[Points, Vias, Folds]:
    m, s = dict(spec.measurements), spec.style
    m["hip"] = max(m["hip"], m["waist"] + 2.0)
    dip = s.get("waist_dip_cm", 0.0)
    left: Points = {"waist_l": _xy(-m["waist"] / 2, 0), "hip_l": _xy(-m["hip"] / 2, m["hip_drop"])}
    points: Points = {"waist_center": _xy(0, dip)}
    if options["family"] == "skirt":
        m["length"] = max(m["length"], m["hip_drop"] + 8.0)
        m["hem_width"] = max(m["hem_width"], 0.85 * m["hip"])
        left["hem_l"] = _xy(-m["hem_width"] / 2, m["length"])
        points["hem_center"] = _xy(0, m["length"] + s.get("hem_curve_cm", 0.0))
        sides = {"_l": left}
    else:
        crotch = _xy(0, max(m["front_rise"], m["hip_drop"] + 3.0))
        points["crotch"] = crotch
        sides = {}
        for suffix in ("_l", "_r"):
            angle = np.deg2rad(max(s["leg_angle_deg"] + rng.normal(0, 2), 1.0))
            down, out = np.array([-np.sin(angle), np.cos(angle)]), np.array([-np.cos(angle), -np.sin(angle)])
            leg = dict(left)
            leg["leg_inner_l"] = crotch + m["inseam"] * down
            leg["leg_outer_l"] = leg["leg_inner_l"] + m["leg_opening"] * out
            if "knee_width" in m:
                leg["knee_inner_l"] = crotch + 0.5 * m["inseam"] * down
                leg["knee_outer_l"] = leg["knee_inner_l"] + m["knee_width"] * out
            sides[suffix] = leg
    for suffix, side in sides.items():
        points.update({k[:-2] + suffix: v for k, v in side.items()})
    if options["family"] == "skirt":
        points.update({k[:-2] + "_r": _mirror(v) for k, v in left.items()})
        return points, {}, {}
    points.update({k[:-2] + "_r": _mirror(v) for k, v in sides["_r"].items()})
    # the crotch seam arches into each leg, so the legs part visibly right below the crotch
    below = "knee_inner" if "knee_width" in m else "leg_inner"
    arch = _xy(s.get("crotch_arch_cm", 1.2), 2.5)
    crotch = points["crotch"]
    vias: Vias = {
        ("crotch", below + "_l"): [(crotch + arch * [-1, 1], False)],
        (below + "_r", "crotch"): [(crotch + arch, False)],
    }
    return points, vias, {}


BUILDERS: dict[str, Callable[[GarmentSpec, dict[str, Any], np.random.Generator], tuple[Points, Vias, Folds]]] = {
    "top": _top,
    "pants": _bottoms,
    "skirt": _bottoms,
}
"""Geometry builder per template family."""


def _dense_ring(names: list[str], points: Points, vias: Vias, corners: set[str]) -> np.ndarray:
    nodes, is_corner = [], []
    for i, name in enumerate(names):
        nodes.append(points[name])
        is_corner.append(name in corners)
        after = names[(i + 1) % len(names)]
        for point, corner in vias.get((name, after), []):
            nodes.append(point)
            is_corner.append(corner)
        for point, corner in reversed(vias.get((after, name), [])):
            nodes.append(point)
            is_corner.append(corner)
    return smooth_chain(np.array(nodes), np.array(is_corner), closed=True)


def build_shape(spec: GarmentSpec, rng: np.random.Generator) -> GarmentShape:
    """Lay out one garment from its measurements and style, in its own frame (cm)."""
    category = DF2.category(spec.category_id)
    template = templates()["categories"][category.name]
    corners = set(templates()["corners"])
    points, vias, folds = BUILDERS[template["family"]](spec, template, rng)
    landmarks = np.array([points[name] for name in category.landmarks])
    silhouette = _dense_ring(template["silhouette"], points, vias, corners)
    inner = _dense_ring(template["inner"], points, vias, corners) if template["inner"] else None
    parts = (
        _parts(category.index, template, points, vias, corners, folds)
        if template.get("sleeve", "none") != "none"
        else None
    )
    whole = Part(silhouette, tuple(category.index[n] for n in template["silhouette"]))
    return GarmentShape(spec.category_id, landmarks, silhouette, inner, points, parts or [whole], folds)


def _parts(
    index: dict[str, int], template: dict[str, Any], points: Points, vias: Vias, corners: set[str], folds: Folds
) -> list[Part]:
    """Body and sleeves as separate pieces, ordered: sleeves folded behind, body, the other sleeves."""
    chain = template["silhouette"]
    sleeves, body = {}, list(chain)
    for suffix in ("_l", "_r"):
        ends = sorted((chain.index("shoulder" + suffix), chain.index("armpit" + suffix)))
        names = chain[ends[0] : ends[1] + 1]
        sleeves[suffix] = Part(
            _dense_ring(names, points, vias, corners), tuple(index[n] for n in names), "sleeve" + suffix
        )
        body = [n for n in body if n not in names[1:-1]]
    body_part = Part(_dense_ring(body, points, vias, corners), tuple(index[n] for n in body), "body")
    behind = [sleeves[s] for s in ("_l", "_r") if folds.get(s) == "back"]
    above = [sleeves[s] for s in ("_l", "_r") if folds.get(s) != "back"]
    return [*behind, body_part, *above]
