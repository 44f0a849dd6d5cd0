"""A simple figure wearing the garments: skin-tone body, head with hair, neck, arms, hands, legs, shoes.

The figure is built around the garments it wears (in a common frame, cm, x to the viewer's right,
y down, y = 0 at the shoulder line): shoulders under the top's shoulders, each arm along its
sleeve's centre line and out of the cuff, the torso narrower than the garment, the legs down the
trouser legs or out below a skirt, dress or shorts. Poses vary: arms hanging or held out, a hand
on the hip, legs apart.

Every body piece is a closed polygon in one of three layers: ``back`` (drawn before every garment:
torso, legs, head, arms inside sleeves), ``mid`` (after the bottom garment, before the tops: hands
and forearms hanging in front of trousers or a skirt) and ``front`` (after every garment: a hand
on the hip, a bare arm in front of a vest). Pieces drawn after a garment hide its landmarks — the
scene passes them to the ground truth as covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from garmentcli.synth.curves import smooth_chain
from garmentcli.synth.geometry import GarmentShape
from garmentcli.synth.texture import _bgr, looks


@dataclass(frozen=True)
class BodyPart:
    """One piece of the figure (figure frame, cm)."""

    outline: np.ndarray
    layer: str
    """``back``, ``mid`` or ``front``."""
    colour: np.ndarray
    """BGR."""
    kind: str
    """``skin`` (rounded shading), ``hair``, ``shoe`` or ``face`` (small flat features)."""
    group: int = 0
    """Pieces of one limb share a group and are shaded as one shape."""


@dataclass
class Figure:
    parts: list[BodyPart]
    head_top: float
    """y of the top of the head (cm)."""
    soles: float
    """y of the soles."""
    tucked: bool
    """The top is tucked into the bottom garment (the bottom is drawn over the top)."""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.hypot(*v)), 1e-9)


def _turn(v: np.ndarray, degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([v[0] * np.cos(a) - v[1] * np.sin(a), v[0] * np.sin(a) + v[1] * np.cos(a)])


def ellipse(centre: np.ndarray, axes: tuple[float, float], angle_deg: float = 0.0, count: int = 28) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, count, endpoint=False)
    points = np.stack([np.cos(t) * axes[0], np.sin(t) * axes[1]], axis=1)
    a = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rotation.T + np.asarray(centre)


def _capsule(a: np.ndarray, b: np.ndarray, wa: float, wb: float, cap_a: bool, cap_b: bool) -> np.ndarray:
    """A simple outline around the segment ``a``-``b`` with widths ``wa``, ``wb`` and round (or flat) ends."""
    along = _unit(b - a)
    side = np.arctan2(along[0], -along[1])  # the angle of the left normal (-along_y, along_x)
    end = side - np.linspace(0, np.pi, 9 if cap_b else 2)
    start = side - np.pi - np.linspace(0, np.pi, 9 if cap_a else 2)
    return np.concatenate(
        [
            b + np.stack([np.cos(end), np.sin(end)], axis=1) * wb / 2,
            a + np.stack([np.cos(start), np.sin(start)], axis=1) * wa / 2,
        ]
    )


def limb(points: np.ndarray, widths: np.ndarray, caps: tuple[bool, bool] = (True, True)) -> list[np.ndarray]:
    """Convex outlines around each segment of a polyline with a width at every point (their union is the limb);
    round joints, and round or flat ends."""
    points, widths = np.asarray(points, np.float64), np.asarray(widths, np.float64)
    last = len(points) - 2
    return [
        _capsule(points[i], points[i + 1], widths[i], widths[i + 1], i > 0 or caps[0], i < last or caps[1])
        for i in range(len(points) - 1)
    ]


def _palette(name: str, rng: np.random.Generator, jitter: float = 6.0) -> np.ndarray:
    colours = looks()["realistic"]["colours"][name]
    return np.clip(_bgr(colours[int(rng.integers(len(colours)))]) + rng.normal(0, jitter, 3), 0, 255).astype(np.float32)


def _has(shape: GarmentShape | None, *names: str) -> bool:
    return shape is not None and all(n in shape.points for n in names)


def _free_arm(
    side: float,
    joint: np.ndarray,
    rng: np.random.Generator,
    waist: np.ndarray,
    pose: str,
) -> tuple[np.ndarray, np.ndarray]:
    """A bare arm from the shoulder joint: hanging (slightly out), held out, or with the hand on the hip."""
    upper, fore = rng.uniform(27, 31), rng.uniform(23, 26)
    if pose == "hip":
        elbow = joint + _turn(np.array([0.0, 1.0]), -side * rng.uniform(35, 50)) * upper
        wrist = waist + np.array([side * rng.uniform(-1, 2), rng.uniform(-2, 3)])
        wrist = elbow + _unit(wrist - elbow) * min(fore, float(np.hypot(*(wrist - elbow))) + 2)
    else:
        out = rng.uniform(40, 75) if pose == "out" else rng.uniform(6, 20)
        elbow = joint + _turn(np.array([0.0, 1.0]), -side * out) * upper
        wrist = elbow + _turn(_unit(elbow - joint), side * rng.uniform(0, 15)) * fore
    hand = wrist + _unit(wrist - elbow) * rng.uniform(7, 9)
    return np.array([joint, elbow, wrist, hand]), np.array([10.5, 8.0, 5.5, 6.5]) * rng.uniform(0.9, 1.05)


def build_figure(
    top: GarmentShape | None,
    bottom: GarmentShape | None,
    rng: np.random.Generator,
    tucked: bool = False,
) -> Figure:
    """The figure wearing ``top`` (the outermost top or dress) and ``bottom``, both already in the figure frame."""
    skin = _palette("skin", rng, 5)
    hair = _palette("hair", rng, 5)
    shoes = _palette("shoes", rng, 8)
    p = top.points if top is not None else {}
    q = bottom.points if bottom is not None else {}
    sleeved = _has(top, "cuff_outer_l")
    if sleeved:
        shoulder = abs(p["shoulder_l"][0]) - rng.uniform(0.5, 2.0)
    elif top is not None:
        shoulder = abs(p["armpit_l"][0]) * rng.uniform(0.82, 0.9)
    else:
        shoulder = abs(q["waist_l"][0]) * 1.1 + 3
    shoulder = float(np.clip(shoulder, 15.5, 24.0))
    chest = float(np.clip(abs(p["armpit_l"][0]) * 0.84 if top is not None else shoulder * 0.9, 13, shoulder))
    armpit_y = float(p["armpit_l"][1]) if top is not None else 22.0
    if bottom is not None:
        waist_y = float(q["waist_center"][1])
        waist = float(abs(q["waist_l"][0])) * 0.95
        hip = float(abs(q["hip_l"][0])) * 0.92
        hip_y = float(q["hip_l"][1])
        crotch_y = float(q["crotch"][1]) if "crotch" in q else hip_y + 9
    else:
        waist_y = float(p["dress_side_2_l"][1]) if "dress_side_2_l" in p else armpit_y + rng.uniform(17, 22)
        waist = chest * rng.uniform(0.78, 0.9)
        hip = waist * rng.uniform(1.08, 1.2)
        hip_y, crotch_y = waist_y + 18, waist_y + 27
    waist, hip = min(waist, chest), max(hip, waist)
    neck = rng.uniform(5.2, 6.4)
    parts: list[BodyPart] = []

    def add(outlines: np.ndarray | list[np.ndarray], layer: str, colour: np.ndarray, kind: str) -> None:
        group = len({p.group for p in parts}) + 1
        for outline in outlines if isinstance(outlines, list) else [outlines]:
            parts.append(BodyPart(outline, layer, colour, kind, group))

    # hair falling behind the shoulders, drawn before everything else
    head_c = np.array([rng.normal(0, 0.5), -8.5 - rng.uniform(9.5, 11.0)])
    head_ax = (rng.uniform(7.3, 8.3), rng.uniform(10.3, 11.6))
    long_hair = rng.random() < 0.45
    if long_hair:
        length = rng.uniform(8, 30)
        back = np.array(
            [
                head_c + np.array([-head_ax[0] - 1.2, -2]),
                head_c + np.array([-head_ax[0] - rng.uniform(1, 4), head_ax[1] + length]),
                head_c + np.array([head_ax[0] + rng.uniform(1, 4), head_ax[1] + length]),
                head_c + np.array([head_ax[0] + 1.2, -2]),
            ]
        )
        add(back, "back", hair, "hair")
    add(ellipse(head_c + np.array([0, -1.0]), (head_ax[0] + 0.9, head_ax[1] + 0.6)), "back", hair, "hair")
    # legs, then shoes over the ankles (trousers are drawn over both)
    soles = crotch_y
    spread = rng.uniform(1, 9)
    for side, suffix in ((-1.0, "_l"), (1.0, "_r")):
        joint = np.array([side * hip * 0.5, crotch_y - 6])
        if "leg_inner" + suffix in q:
            opening = (q["leg_inner" + suffix] + q["leg_outer" + suffix]) / 2
            down = _unit(opening - joint)
            reach = float(np.hypot(*(opening - joint)))
            total = rng.uniform(74, 82)
            ankle = joint + down * max(total, reach + 3)
        else:
            ankle = joint + _turn(np.array([0.0, 1.0]), -side * spread) * rng.uniform(74, 82)
        knee = joint + (ankle - joint) * 0.5
        calf = joint + (ankle - joint) * 0.68
        add(limb(np.array([joint, knee, calf, ankle]), np.array([16.5, 11, 11.5, 7.0])), "back", skin, "skin")
        shoe = ellipse(ankle + np.array([side * 1.5, 4.5]), (rng.uniform(5.0, 6.0), rng.uniform(3.8, 4.6)), side * 8)
        add(shoe, "back", shoes, "shoe")
        soles = max(soles, float(ankle[1] + 8.5))
    # torso and neck
    bottom_y = crotch_y + 3
    left = np.array(
        [
            [-neck - 1.0, 0.5],
            [-shoulder, 3.5],
            [-chest, armpit_y],
            [-waist, waist_y],
            [-hip, hip_y],
            [-hip * 0.97, bottom_y],
        ]
    )
    ring = np.concatenate([left, (left * [-1, 1])[::-1]])
    corners = np.zeros(len(ring), bool)
    corners[[len(left) - 1, len(left)]] = True
    add(smooth_chain(ring, corners, closed=True, step=1.0), "back", skin, "skin")
    neck_piece = np.array([[-neck, -8.5 - 2], [neck, -8.5 - 2], [neck * 1.1, 2.5], [-neck * 1.1, 2.5]])
    add(neck_piece, "back", skin * 0.92, "skin")
    add(ellipse(head_c, head_ax), "back", skin, "skin")
    for dx in (-1, 1):  # eyes and brows, a mouth: enough for a face at this size
        eye = head_c + np.array([dx * head_ax[0] * 0.38, -head_ax[1] * 0.05])
        add(ellipse(eye, (1.2, 0.6), 0, 12), "back", hair * 0.5, "face")
        brow = np.array([eye + np.array([-1.6, -1.8]), eye + np.array([1.6, -1.8 - dx * 0.2])])
        add(limb(brow, np.array([0.5, 0.4])), "back", hair * 0.8, "face")
    mouth = head_c + np.array([0, head_ax[1] * 0.52])
    add(ellipse(mouth, (2.2, 0.7), 0, 14), "back", skin * [0.75, 0.72, 0.95], "face")
    fringe = ellipse(head_c + np.array([0, -head_ax[1] * 0.55]), (head_ax[0] * 1.02, head_ax[1] * 0.5))
    fringe = fringe[fringe[:, 1] <= head_c[1] - head_ax[1] * 0.35]
    if len(fringe) >= 3:
        add(fringe, "back", hair, "hair")
    # arms
    waist_point = {-1.0: np.array([-waist, waist_y + 2]), 1.0: np.array([waist, waist_y + 2])}
    hand_layer = "back" if tucked or bottom is None else "mid"
    for side, suffix in ((-1.0, "_l"), (1.0, "_r")):
        if sleeved:
            root = (p["shoulder" + suffix] + p["armpit" + suffix]) / 2
            root = root + np.array([-side * 2.0, 0.0])
            cuff = (p["cuff_outer" + suffix] + p["cuff_inner" + suffix]) / 2
            direction = _unit(cuff - root)
            if "sleeve_outer_2" + suffix in p:  # long: the arm follows the sleeve, the hand comes out of the cuff
                elbow = (p["sleeve_outer_2" + suffix] + p["sleeve_inner_2" + suffix]) / 2
                last = _unit(cuff - (p["sleeve_outer_3" + suffix] + p["sleeve_inner_3" + suffix]) / 2)
                hand = cuff + last * rng.uniform(8, 10)
                arm = limb(np.array([root, elbow, cuff]), np.array([10.5, 8.0, 5.6]), (True, False))
                add(arm, "back", skin, "skin")
                hand_piece = limb(np.array([cuff - last * 2.0, cuff + last * 2.0, hand]), np.array([5.4, 5.8, 6.5]))
                add(hand_piece, hand_layer, skin, "skin")
            else:  # short: the upper arm in the sleeve, the forearm out of it
                upper = rng.uniform(27, 31)
                elbow = root + direction * max(upper, float(np.hypot(*(cuff - root))) + 2)
                pose = "hip" if rng.random() < 0.25 and bottom is not None else "down"
                if pose == "hip":
                    target = waist_point[side]
                    fore = _unit(target - elbow)
                    layer = "front"
                else:
                    fore = _unit(_turn(direction, side * rng.uniform(0, 20)) * 0.3 + np.array([0.0, 1.0]))
                    layer = hand_layer
                wrist = elbow + fore * rng.uniform(23, 26)
                hand = wrist + fore * rng.uniform(7, 9)
                inside = limb(np.array([root, cuff, elbow]), np.array([10.5, 9.5, 8.5]), (True, True))
                add(inside, "back", skin, "skin")
                start = cuff + direction * 0.6
                outside = limb(np.array([start, elbow, wrist, hand]), np.array([9.0, 8.3, 5.5, 6.5]), (False, True))
                add(outside, layer, skin, "skin")
        else:
            pose = str(rng.choice(["down", "down", "out", "hip"]))
            joint = np.array([side * (shoulder - 3.0), 5.0])
            chain, widths = _free_arm(side, joint, rng, waist_point[side], pose)
            layer = "front" if pose == "hip" or rng.random() < 0.5 else "back"
            add(limb(chain, widths), layer, skin, "skin")
    top_y = float(head_c[1] - head_ax[1] - 1.6)
    return Figure(parts, top_y, soles, tucked)
