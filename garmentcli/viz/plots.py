"""The report's plots as inline SVG text: matplotlib figures (no GUI backend) and hand-drawn templates.

matplotlib is imported on first use, so commands that draw no plot do not pay for it. Every figure
is a :class:`matplotlib.figure.Figure` rendered straight to SVG, with its text kept as text (small,
searchable) and its element ids salted with the figure's key, so that several figures can sit in
one HTML page without their clip-path ids colliding. Category colours are those of
:func:`garmentcli.viz.draw.category_colour`, the colours of ``garmentkp draw``.
"""

from __future__ import annotations

import html
import io
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from garmentcli.schema.garments import category_name
from garmentcli.viz.draw import category_colour

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from garmentcli.metrics.coco import CocoResult
    from garmentcli.metrics.confusion import Confusion
    from garmentcli.metrics.diagnostics import LandmarkErrors

OVERALL_COLOUR = "#222222"
_CATEGORY_BY_NAME: dict[str, int] = {}


def colour_of(category_id: int) -> str:
    """The category's ``draw`` colour as ``#rrggbb``."""
    b, g, r = category_colour(category_id)
    return f"#{r:02x}{g:02x}{b:02x}"


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")  # never a GUI backend, whatever the environment says
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _axes(figure: Figure, left: float, bottom: float, width: float, height: float) -> Any:
    """Axes placed in inches from the bottom-left corner (a fixed layout: a layout engine would double the
    drawing time, most of the report's)."""
    fig_w, fig_h = figure.get_size_inches()
    return figure.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))


def to_svg(figure: Figure, key: str) -> str:
    """The figure as an ``<svg>`` element (no XML prologue), ids unique to ``key``."""
    import matplotlib

    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": key, "font.size": 9}):
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    text = text[text.index("<svg") :]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if 0 <= start < end:  # RDF naming the format: nothing a reader needs
        text = text[:start] + text[end + len("</metadata>") :]
    return text


def _style(axes: Any) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(True, color="#e5e5e5", linewidth=0.6)
    axes.set_axisbelow(True)


def category_bars(names: Sequence[str], series: Mapping[str, Sequence[float]], key: str) -> str:
    """Horizontal grouped bars, one group per category and one bar per series (-1: drawn as absent)."""
    height = 0.25 * len(names) * max(1, len(series)) ** 0.6
    figure = _figure(7.0, height + 0.55)
    axes = _axes(figure, 1.75, 0.4, 5.0, height)
    height = 0.8 / max(1, len(series))
    palette = ("#3b75af", "#ef8636", "#519e3e", "#c53a32")
    y = np.arange(len(names))
    for i, (label, values) in enumerate(series.items()):
        shown = np.array([v if v is not None and v >= 0 else np.nan for v in values], dtype=float)
        bars = axes.barh(
            y + (i - (len(series) - 1) / 2) * height,
            np.nan_to_num(shown),
            height,
            label=label,
            color=palette[i % len(palette)],
        )
        for bar, value in zip(bars, shown, strict=True):
            text = "–" if np.isnan(value) else f"{value:.3f}"
            axes.text(bar.get_width() + 0.005, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=7)
    axes.set_yticks(y, list(names))
    axes.invert_yaxis()
    axes.set_xlim(0, 1.08)
    axes.legend(loc="lower right", fontsize=8)
    _style(axes)
    return to_svg(figure, key)


def pr_curves(result: CocoResult, title: str, key: str) -> str:
    """Precision against recall from the evaluator's own precision array (area "all", the largest maxDets):
    per category at the 0.5 threshold, and the mean over categories at each threshold."""
    from garmentcli.metrics.coco import IOU_THRESHOLDS, RECALL_THRESHOLDS

    figure = _figure(11.0, 4.0)
    left, right = _axes(figure, 0.6, 0.5, 3.7, 3.2), _axes(figure, 6.2, 0.5, 3.7, 3.2)
    precision = result.precision[:, :, :, result.subsets.index("all"), -1]  # (T, R, K)
    for k, category_id in enumerate(result.category_ids.tolist()):
        curve = precision[0, :, k]
        if np.all(curve < 0):
            continue
        left.plot(
            RECALL_THRESHOLDS, curve, color=colour_of(category_id), linewidth=1.2, label=category_name(category_id)
        )
    for t, threshold in enumerate(IOU_THRESHOLDS):
        values = precision[t]
        counted = values[:, values[0] > -1] if values.size else values
        if counted.shape[1] == 0:
            continue
        mean = counted.mean(axis=1)
        shade = 0.15 + 0.7 * t / max(1, len(IOU_THRESHOLDS) - 1)
        right.plot(
            RECALL_THRESHOLDS, mean, color=(shade, shade, 0.85 - 0.5 * shade), linewidth=1.4, label=f"{threshold:.2f}"
        )
    kind = "OKS" if result.params.kind == "keypoints" else "IoU"
    left.set_title(f"{title}: per category, {kind} 0.5")
    right.set_title(f"{title}: mean over categories, by {kind} threshold")
    for axes in (left, right):
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        _style(axes)
    if left.lines:
        left.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    right.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=kind, title_fontsize=7)
    return to_svg(figure, key)


def confusion_plot(confusion: Confusion, key: str) -> str:
    """The confusion matrix as a heat map, each true category's row normalised, counts written in."""
    matrix = confusion.matrix.astype(float)
    rows, columns = confusion.row_labels, confusion.column_labels
    cell = 0.36
    figure = _figure(1.75 + cell * len(columns) + 1.3, 1.55 + cell * len(rows) + 0.15)
    axes = _axes(figure, 1.75, 1.55, cell * len(columns), cell * len(rows))
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, matrix / totals, 0.0)
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            if matrix[i, j]:
                axes.text(
                    j,
                    i,
                    f"{int(matrix[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black",
                )
    axes.set_xticks(range(len(columns)), columns, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    axes.set_yticks(range(len(rows)), rows, fontsize=8)
    axes.set_xlabel("predicted as")
    axes.set_ylabel("true category")
    bar = _axes(figure, 1.75 + cell * len(columns) + 0.2, 1.55, 0.15, cell * len(rows))
    figure.colorbar(image, cax=bar, label="share of the row")
    return to_svg(figure, key)


def pck_plot(thresholds: np.ndarray, curves: Mapping[str, np.ndarray], marked: float, key: str) -> str:
    """PCK against the threshold: a line per category, the overall curve thick, the report's threshold marked."""
    from garmentcli.metrics.diagnostics import ALL

    figure = _figure(8.0, 4.2)
    axes = _axes(figure, 0.6, 0.55, 5.4, 3.5)
    for name, curve in curves.items():
        if name == ALL:
            continue
        axes.plot(thresholds, curve, color=colour_of(_category_id(name)), linewidth=1.2, label=name)
    if ALL in curves:
        axes.plot(thresholds, curves[ALL], color=OVERALL_COLOUR, linewidth=2.6, label="all garments")
    axes.axvline(marked, color="#888888", linestyle="--", linewidth=1)
    axes.set_xlim(thresholds[0], thresholds[-1])
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("threshold (fraction of the box's longer side)")
    axes.set_ylabel("PCK")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _style(axes)
    return to_svg(figure, key)


def attribute_bars(groups: Mapping[str, Mapping[str, Mapping[str, float]]], key: str) -> str:
    """One panel per attribute (scale, occlusion …): grouped bars of each metric per attribute value.

    ``groups`` is ``{attribute: {value label: {metric: number}}}``.
    """
    figure = _figure(3.2 * max(1, len(groups)), 3.4)
    panels = [_axes(figure, 0.45 + 3.2 * i, 0.6, 2.6, 2.3) for i in range(max(1, len(groups)))]
    palette = ("#3b75af", "#ef8636", "#519e3e", "#c53a32")
    for axes, (attribute, values) in zip(panels, groups.items(), strict=False):
        labels = list(values)
        metrics = list(dict.fromkeys(m for numbers in values.values() for m in numbers))
        width = 0.8 / max(1, len(metrics))
        x = np.arange(len(labels))
        for i, metric in enumerate(metrics):
            heights = [max(values[label].get(metric, -1), 0) for label in labels]
            axes.bar(
                x + (i - (len(metrics) - 1) / 2) * width, heights, width, label=metric, color=palette[i % len(palette)]
            )
        axes.set_xticks(x, labels, rotation=20, fontsize=8)
        axes.set_ylim(0, 1.05)
        axes.set_title(attribute)
        _style(axes)
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncols=max(1, len(labels)), fontsize=8, frameon=False)
    return to_svg(figure, key)


def histograms(values: Mapping[str, np.ndarray], unit: str, key: str, reference: float | None = None) -> str:
    """A small histogram per name (measurements, or their errors), in a grid; ``reference`` marked when given."""
    names = list(values)
    columns = min(4, max(1, len(names)))
    rows = -(-len(names) // columns) if names else 1
    figure = _figure(2.6 * columns, 2.1 * rows)
    panels = [
        _axes(figure, 0.45 + 2.6 * (i % columns), 0.5 + 2.1 * (rows - 1 - i // columns), 1.95, 1.3)
        for i in range(rows * columns)
    ]
    for axes, name in zip(panels, names, strict=False):
        data = np.asarray(values[name], dtype=float)
        data = data[np.isfinite(data)]
        if data.size:
            axes.hist(data, bins=min(30, max(5, int(np.sqrt(data.size)) + 1)), color="#3b75af")
        if reference is not None:
            axes.axvline(reference, color="#c53a32", linestyle="--", linewidth=1)
        axes.set_title(f"{name} (n={data.size})", fontsize=8)
        axes.set_xlabel(unit, fontsize=7)
        axes.tick_params(labelsize=7)
        _style(axes)
    for axes in panels[len(names) :]:
        axes.set_visible(False)
    return to_svg(figure, key)


def scatter_truth(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], key: str) -> str:
    """Measured against true values, all measurements in one plot, the diagonal drawn."""
    figure = _figure(5.0, 4.6)
    axes = _axes(figure, 0.6, 0.5, 4.2, 3.9)
    palette = (
        "#3b75af",
        "#ef8636",
        "#519e3e",
        "#c53a32",
        "#8c61b5",
        "#84584e",
        "#d57fbe",
        "#7f7f7f",
        "#bcbc35",
        "#41bccd",
    )
    high = 1.0
    for i, (name, (true, measured)) in enumerate(pairs.items()):
        axes.scatter(true, measured, s=9, color=palette[i % len(palette)], label=name, alpha=0.8)
        if len(true):
            high = max(high, float(np.nanmax(true)), float(np.nanmax(measured)))
    axes.plot([0, high * 1.05], [0, high * 1.05], color="#888888", linewidth=1)
    axes.set_xlabel("true (cm)")
    axes.set_ylabel("measured (cm)")
    axes.legend(fontsize=6, ncols=2)
    _style(axes)
    return to_svg(figure, key)


def _category_id(name: str) -> int:
    if not _CATEGORY_BY_NAME:
        from garmentcli.schema.fld import FLD_CATEGORY_IDS
        from garmentcli.schema.layout import DF2

        _CATEGORY_BY_NAME.update({c.name: c.id for c in DF2.categories})
        _CATEGORY_BY_NAME.update({category_name(i): i for i in FLD_CATEGORY_IDS.values()})
    return _CATEGORY_BY_NAME.get(name, 1)


ERROR_STOPS = ((0.0, (26, 150, 65)), (0.5, (166, 217, 106)), (1.0, (253, 174, 97)), (2.0, (215, 25, 28)))
"""Landmark colour by median error in units of the PCK threshold: green at 0, red from twice the threshold."""


def error_colour(error: float, threshold: float) -> str:
    """``#rrggbb`` for a median normalised error (grey when unmeasured)."""
    if not np.isfinite(error):
        return "#9e9e9e"
    x = min(error / threshold, ERROR_STOPS[-1][0]) if threshold > 0 else 0.0
    for (a, low), (b, high) in itertools.pairwise(ERROR_STOPS):
        if x <= b:
            f = (x - a) / (b - a)
            r, g, bl = (round(lo + (hi - lo) * f) for lo, hi in zip(low, high, strict=True))
            return f"#{r:02x}{g:02x}{bl:02x}"
    r, g, bl = ERROR_STOPS[-1][1]
    return f"#{r:02x}{g:02x}{bl:02x}"


def template_svg(errors: LandmarkErrors, threshold: float, width: float = 250.0) -> str:
    """The category's typical layout with its outline, each landmark a dot coloured by its median error and
    sized by its miss rate (a tooltip gives the name and figures); unlabelled landmarks are left out."""
    points = errors.template
    known = np.all(np.isfinite(points), axis=1)
    pad, label_room = 14.0, 10.0
    low = points[known].min(axis=0) if known.any() else np.zeros(2)
    span = np.maximum(points[known].max(axis=0) - low, 1e-6) if known.any() else np.ones(2)
    scale = (width - 2 * pad) / span[0]
    if span[1] * scale > 1.6 * width:  # very tall garments (trousers): narrower instead of taller
        scale = 1.6 * width / span[1]
    offset_x = (width - span[0] * scale) / 2
    height = span[1] * scale + 2 * pad + label_room

    def at(i: int) -> tuple[float, float]:
        x, y = (points[i] - low) * scale
        return offset_x + x, pad + y

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="template" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{html.escape(errors.name)} landmarks">'
    ]
    for chain in errors.outline:
        run: list[str] = []
        for i in [*chain, -1]:
            if i >= 0 and known[i]:
                x, y = at(i)
                run.append(f"{x:.1f},{y:.1f}")
                continue
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="#9a9a9a" stroke-width="1.2"/>')
            run = []
    order = np.argsort(np.nan_to_num(errors.miss_rate, nan=0.0))[::-1]  # big dots first, small ones on top
    for i in order.tolist():
        if not known[i]:
            continue
        x, y = at(i)
        miss = errors.miss_rate[i]
        radius = 3.0 + 9.0 * (0.0 if not np.isfinite(miss) else float(miss))
        median = errors.median_error[i]
        tip = (
            f"{i + 1} {errors.names[i]}: median error "
            + ("–" if not np.isfinite(median) else f"{median:.3f}")
            + ", miss rate "
            + ("–" if not np.isfinite(miss) else f"{miss:.0%}")
            + f" ({int(errors.labelled[i])} labelled)"
        )
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{error_colour(median, threshold)}" '
            f'fill-opacity="0.85" stroke="#333333" stroke-width="0.6"><title>{html.escape(tip)}</title></circle>'
        )
        parts.append(f'<text x="{x + radius + 1:.1f}" y="{y + 3:.1f}" font-size="7" fill="#555555">{i + 1}</text>')
    parts.append("</svg>")
    return "".join(parts)


def error_legend_svg(threshold: float) -> str:
    """The colour and size keys of :func:`template_svg`."""
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 520 44" width="520" height="44" role="img" '
        'aria-label="legend">'
    ]
    for step in range(41):
        x = 10 + step * 5
        parts.append(
            f'<rect x="{x}" y="6" width="5" height="12" fill="{error_colour(step / 20 * threshold, threshold)}"/>'
        )
    parts.append('<text x="10" y="32" font-size="10">0</text>')
    parts.append(f'<text x="105" y="32" font-size="10">{threshold:g}</text>')
    parts.append(f'<text x="190" y="32" font-size="10">≥{2 * threshold:g}</text>')
    parts.append('<text x="10" y="42" font-size="9" fill="#555">median error / longer box side</text>')
    for j, miss in enumerate((0.0, 0.25, 0.5, 1.0)):
        cx = 290 + j * 55
        parts.append(
            f'<circle cx="{cx}" cy="14" r="{3 + 9 * miss:.1f}" fill="#bbbbbb" stroke="#333" stroke-width="0.6"/>'
        )
        parts.append(f'<text x="{cx - 8}" y="38" font-size="10">{miss:.0%}</text>')
    parts.append('<text x="470" y="18" font-size="9" fill="#555">miss rate</text>')
    parts.append("</svg>")
    return "".join(parts)
