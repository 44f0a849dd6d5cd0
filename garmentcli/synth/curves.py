"""Dense outlines through landmarks: piecewise cubic Hermite curves that pass exactly through every node.

A chain of nodes (landmarks and shaping points) is split at its *corner* nodes; each piece is a
smooth curve whose tangents come from the neighbouring nodes (chord-length finite differences),
so a curve never overshoots much and a straight run of nodes stays straight. Every node is a
vertex of the result, which is what keeps landmarks exactly on the rendered outline.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

SAMPLE_STEP_CM = 0.6
"""Target spacing of the dense outline's vertices, in centimetres."""


def _piece(nodes: np.ndarray, step: float) -> np.ndarray:
    """A smooth curve through ``nodes`` (N, 2), N >= 2, without the last node (the caller appends it)."""
    chords = np.diff(nodes, axis=0)
    lengths = np.maximum(np.hypot(chords[:, 0], chords[:, 1]), 1e-9)
    tangents = np.empty_like(nodes)
    tangents[0] = chords[0] / lengths[0]
    tangents[-1] = chords[-1] / lengths[-1]
    if len(nodes) > 2:
        tangents[1:-1] = (nodes[2:] - nodes[:-2]) / (lengths[1:] + lengths[:-1])[:, None]
    out = []
    for i, length in enumerate(lengths):
        count = max(2, int(np.ceil(length / step)))
        t = np.linspace(0.0, 1.0, count, endpoint=False)[:, None]
        t2, t3 = t * t, t * t * t
        h00, h10, h01, h11 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, -2 * t3 + 3 * t2, t3 - t2
        out.append(h00 * nodes[i] + h10 * length * tangents[i] + h01 * nodes[i + 1] + h11 * length * tangents[i + 1])
    return np.concatenate(out)


def smooth_chain(nodes: np.ndarray, corners: np.ndarray, closed: bool, step: float = SAMPLE_STEP_CM) -> np.ndarray:
    """Dense polyline through ``nodes`` (N, 2); ``corners`` (N,) bool marks nodes where the curve may bend sharply.

    A closed chain returns the ring without repeating its first vertex; an open one ends on its last node.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    corners = np.asarray(corners, dtype=bool).copy()
    if closed:
        if not corners.any():
            corners[0] = True
        start = int(np.argmax(corners))
        nodes = np.roll(nodes, -start, axis=0)
        corners = np.roll(corners, -start)
        nodes = np.concatenate([nodes, nodes[:1]])
        corners = np.concatenate([corners, [True]])
    else:
        corners[0] = corners[-1] = True
    cuts = np.flatnonzero(corners)
    pieces = [_piece(nodes[a : b + 1], step) for a, b in pairwise(cuts) if b > a]
    dense = np.concatenate(pieces) if pieces else nodes[:1]
    return dense if closed else np.concatenate([dense, nodes[-1:]])
