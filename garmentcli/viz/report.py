"""``garmentkp eval --report report.html``: one self-contained HTML page that shows where a model fails.

The page needs nothing but itself to be viewed: no script, no style sheet, no font and no picture is
fetched from anywhere. Plots are inline SVG (:mod:`garmentcli.viz.plots`), photos JPEG data URIs.
Sections, each an element with a fixed ``id``:

* ``summary``: the overall numbers (keypoint AP/AR, box AP/AR, PCK, AUC, EPE, NE as the inputs
  allow) and what produced them: the command line, the model (from the ``garmentkp_run`` record of a
  ``detect`` output), the inputs and the date;
* ``per-category``: keypoint AP and box AP per category as bars, and a table of the main figures;
* ``pr-curves``: precision against recall, boxes and keypoints, read from the evaluator's own
  precision array (:class:`~garmentcli.metrics.coco.CocoResult`), the array COCO's AP averages;
* ``confusion``: the category confusion matrix of :mod:`garmentcli.metrics.confusion`;
* ``pck``: PCK against the threshold, per category (:mod:`garmentcli.metrics.diagnostics`);
* ``landmarks``: per category its typical layout, each landmark coloured by its median error and
  sized by its miss rate (one ``figure`` with ``data-category`` per category);
* ``images`` (with ``--images``): the worst images (lowest :func:`~garmentcli.metrics.diagnostics.image_quality`)
  and a few of the best, ground truth and prediction side by side, captioned with the file name;
* ``attributes`` (when the ground truth has DeepFashion2 attributes): the figures per attribute value.

Every number shown comes from the dict ``eval --json`` writes, which is embedded whole
(``<script type="application/json" id="eval-result">``); table cells carry the exact value in
``data-value``.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from garmentcli import __version__
from garmentcli.io.df2 import IMAGE_DIR
from garmentcli.io.jsonio import dump_json
from garmentcli.metrics.report import format_value
from garmentcli.schema.garments import category_name, landmark_names
from garmentcli.schema.layout import NUM_LANDMARKS
from garmentcli.schema.records import RUN_KEY, Garment

if TYPE_CHECKING:
    from garmentcli.metrics.coco import CocoResult
    from garmentcli.metrics.confusion import Confusion
    from garmentcli.metrics.diagnostics import Diagnostics, ImageQuality
    from garmentcli.metrics.instances import Instances

WORST_IMAGES = 12
BEST_IMAGES = 4
PHOTO_HEIGHT = 240
"""Height in pixels of each embedded photo (ground truth and prediction side by side)."""
RUN_HEAD_BYTES = 1 << 20
"""How much of a prediction file is searched for its ``garmentkp_run`` record (COCO files put it first)."""
SECTION_TITLES = {
    "keypoints": "Keypoints (DeepFashion2 OKS)",
    "bbox": "Boxes (COCO)",
    "landmarks": "Landmarks",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d1d1d;
margin:0;background:#fafafa}
header{background:#1f2a36;color:#f2f2f2;padding:18px 28px}
header h1{margin:0 0 6px;font-size:22px}
header dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0 0;font-size:13px}
header dt{color:#9fb3c8}header dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:6px 28px;z-index:1}
nav a{margin-right:16px;color:#2360a5;text-decoration:none}
main{padding:4px 28px 40px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:18px 0;padding:10px 20px 16px}
h2{font-size:18px;margin:8px 0 10px}h3{font-size:15px;margin:14px 0 6px}
p.note{color:#555;font-size:13px;max-width:60em}
table.numbers{border-collapse:collapse;margin:6px 14px 12px 0;font-variant-numeric:tabular-nums;display:inline-table;
vertical-align:top}
table.numbers th,table.numbers td{padding:3px 9px;border-bottom:1px solid #eee;text-align:right}
table.numbers th:first-child,table.numbers td:first-child{text-align:left}
table.numbers thead th{border-bottom:2px solid #ccc;font-weight:600}
table.numbers caption{text-align:left;font-weight:600;padding:2px 0}
figure{margin:8px 0}figure svg{max-width:100%;height:auto}
.grid{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure.template{border:1px solid #eee;border-radius:4px;padding:6px;background:#fff;width:262px}
figure.template figcaption{font-size:12px}
figure.photo{border:1px solid #eee;border-radius:4px;padding:6px;background:#fff;max-width:560px}
figure.photo .pair{display:flex;gap:6px}
figure.photo .pair div{text-align:center;font-size:11px;color:#555}
figure.photo img{display:block;max-height:240px}
figcaption{font-size:12.5px;color:#333;margin-top:4px}
figcaption code{font-size:12px}
.bad{color:#b3261e}.good{color:#1e7b34}
"""


@dataclass
class Provenance:
    """What produced the report: shown at its top."""

    command: str
    inputs: list[tuple[str, str]]
    """``(what, path)`` of each input, in the order shown."""
    run: dict[str, Any] | None = None
    """The prediction file's ``garmentkp_run`` record (model, settings), when it has one."""
    date: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    )

    @property
    def model(self) -> str | None:
        settings = (self.run or {}).get("settings") or {}
        return settings.get("model")


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that is running, quoted for a shell: ``garmentkp`` and ``argv`` when given; else rebuilt
    from the running command's context (the subcommand and each option given on the command line, so that
    it runs again the same way also when called in-process), else from the Python process's arguments."""
    if argv is None:
        context = _current_context()
        if context is None:
            return shlex.join(["garmentkp", *sys.argv[1:]])
        chain = []
        while context is not None:
            chain.append(context)
            context = context.parent
        argv = [word for level in reversed(chain) for word in _given(level)]
    return shlex.join(["garmentkp", *argv])


def _current_context() -> Any:
    try:  # recent typer carries its own copy of click
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - typer that uses click itself
        from click import get_current_context
    return get_current_context(silent=True)


def _given(context: Any) -> list[str]:
    """A context's command name (subcommands) and the parameters given to it on the command line, as words."""
    words = [context.info_name] if context.parent is not None else []
    for param in context.command.params:
        source = context.get_parameter_source(param.name)
        if getattr(source, "name", None) != "COMMANDLINE":
            continue
        value = context.params.get(param.name)
        if getattr(param, "param_type_name", "") != "option":
            words += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        elif param.is_flag:
            words.append(param.opts[0] if value or not param.secondary_opts else param.secondary_opts[0])
        else:
            name = max(param.opts, key=len)
            for item in value if param.multiple else [value]:
                words += [name, str(item)]
    return words


def recorded_run(path: str | Path) -> dict[str, Any] | None:
    """The ``garmentkp_run`` record of a ``detect`` output (COCO: a top-level key, written first; JSON Lines:
    on the first line), found in the file's first megabyte; None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        head = handle.read(RUN_HEAD_BYTES).decode("utf-8", errors="replace")
    key = f'"{RUN_KEY}"'
    at = head.find(key)
    if at < 0:
        return None
    colon = head.find(":", at + len(key))
    try:
        value, _ = json.JSONDecoder().raw_decode(head[colon + 1 :].lstrip())
    except (ValueError, IndexError):
        return None
    return value if isinstance(value, dict) else None


def without_breakdowns(result: dict[str, Any], per_category: bool, by_attribute: bool) -> dict[str, Any]:
    """``result`` without the ``per_category`` / ``by_attribute`` tables that were not asked for (the report
    computes them; ``--json``, ``--csv`` and the terminal show what the options ask for)."""
    dropped = [k for k, wanted in (("per_category", per_category), ("by_attribute", by_attribute)) if not wanted]
    if not dropped:
        return result
    return {
        key: {k: v for k, v in value.items() if k not in dropped} if isinstance(value, dict) else value
        for key, value in result.items()
    }


# --- HTML pieces -------------------------------------------------------------------------------


def _cell(section: str, metric: str, value: float | None, shown: Callable[[str, float], str]) -> str:
    if value is None:
        return "<td></td>"
    return (
        f'<td data-section="{section}" data-metric="{html.escape(metric)}" data-value="{value!r}">'
        f"{html.escape(shown(metric, value))}</td>"
    )


def numbers_table(
    caption: str,
    section: str,
    rows: Sequence[tuple[str, Mapping[str, float]]],
    metrics: Sequence[str],
    shown: Callable[[str, float], str] = format_value,
) -> str:
    """A table: a row per ``(label, {metric: value})``, a column per metric; cells carry ``data-value`` and
    show ``shown(metric, value)`` (default: as the terminal tables of ``eval``)."""
    head = "".join(f"<th>{html.escape(m)}</th>" for m in metrics)
    body = "".join(
        f'<tr data-row="{html.escape(label)}"><td>{html.escape(label)}</td>'
        + "".join(_cell(section, m, values.get(m), shown) for m in metrics)
        + "</tr>"
        for label, values in rows
    )
    return (
        f'<table class="numbers" data-section="{section}"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _overall(numbers: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, v in numbers.items() if isinstance(v, float)}


def page(
    title: str, provenance: Provenance, sections: Sequence[tuple[str, str, str]], data: Any | None, data_id: str
) -> str:
    """The whole document: header with the provenance, a menu, the ``(id, title, body)`` sections, the data."""
    rows = [("command", provenance.command), *provenance.inputs]
    if provenance.run:
        settings = provenance.run.get("settings") or {}
        model = provenance.model or "?"
        digest = settings.get("model_sha256")
        rows.append(("model", model + (f" (sha256 {digest[:12]}…)" if isinstance(digest, str) else "")))
        shown = {k: v for k, v in settings.items() if k not in ("model", "model_sha256")}
        if shown:
            rows.append(("detect settings", ", ".join(f"{k}={v}" for k, v in shown.items())))
        if provenance.run.get("garmentkp"):
            rows.append(("detected with", f"garmentkp {provenance.run['garmentkp']}"))
    else:
        rows.append(("model", "not recorded (the input carries no garmentkp_run record)"))
    rows.append(("date", provenance.date))
    rows.append(("report by", f"garmentkp {__version__}"))
    meta = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows)
    menu = "".join(f'<a href="#{key}">{html.escape(name)}</a>' for key, name, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{html.escape(name)}</h2>{content}</section>' for key, name, content in sections
    )
    embedded = ""
    if data is not None:
        text = dump_json(data).decode("utf-8").replace("</", "<\\/")
        embedded = f'<script type="application/json" id="{data_id}">{text}</script>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><dl>{meta}</dl></header><nav>{menu}</nav>"
        f"<main>{body}</main>{embedded}</body></html>\n"
    )


def _figure(svg: str, caption: str, kind: str) -> str:
    return f'<figure class="plot" data-plot="{kind}">{svg}<figcaption>{caption}</figcaption></figure>'


# --- the sections of the eval report -------------------------------------------------------------


def summary_section(result: Mapping[str, Any]) -> str:
    parts = []
    for section, title in SECTION_TITLES.items():
        numbers = result.get(section)
        if not numbers:
            continue
        overall = _overall(numbers)
        if not overall:
            continue
        if section == "landmarks":
            parts.append(numbers_table(title, section, [("all", overall)], list(overall)))
            continue
        for prefix, word in (("AP", "precision"), ("AR", "recall")):
            metrics = [m for m in overall if m.startswith(prefix)]
            parts.append(numbers_table(f"{title}: {word}", section, [("all", overall)], metrics))
    counts = result.get("counts", {})
    notes = [
        f"{counts.get('ground_truth', 0)} ground-truth garments on {counts.get('images', 0)} images, "
        f"{counts.get('predictions', 0)} predictions."
    ]
    landmarks = result.get("landmarks") or {}
    if landmarks.get("pairing"):
        rule = "annotation id" if landmarks["pairing"] == "id" else "OKS, as keypoint AP matches"
        notes.append(f"Landmark figures: {landmarks['paired']} of {landmarks['garments']} garments paired (by {rule}).")
    left_out = [
        f"{counts[k]} {what}"
        for k, what in (
            ("predictions_unknown_image", "predictions on unknown images"),
            ("predictions_unknown_category", "predictions of unknown categories"),
            ("gt_skipped", "malformed ground-truth entries"),
            ("predictions_skipped", "malformed predictions"),
        )
        if counts.get(k)
    ]
    if left_out:
        notes.append("Left out: " + ", ".join(left_out) + ".")
    return "".join(parts) + "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)


PER_CATEGORY_COLUMNS = (
    ("keypoints", ("AP", "AP50", "AR")),
    ("bbox", ("AP", "AP50", "AR100")),
    ("landmarks", None),
)


def per_category_section(result: Mapping[str, Any]) -> str:
    from garmentcli.viz.plots import category_bars

    names = sorted(
        {n for s in ("keypoints", "bbox", "landmarks") for n in (result.get(s) or {}).get("per_category", {})},
        key=_category_order,
    )
    if not names:
        return '<p class="note">No per-category figures (no ground truth).</p>'
    series = {}
    for section, label in (("keypoints", "keypoint AP"), ("bbox", "box AP")):
        table = (result.get(section) or {}).get("per_category")
        if table:
            series[label] = [table.get(n, {}).get("AP", -1.0) for n in names]
    parts = []
    if series:
        parts.append(
            _figure(category_bars(names, series, "per-category"), "AP per category (– : no ground truth).", "ap-bars")
        )
    for section, metrics in PER_CATEGORY_COLUMNS:
        table = (result.get(section) or {}).get("per_category")
        if not table:
            continue
        shown = list(metrics) if metrics else list(dict.fromkeys(m for v in table.values() for m in v))
        rows = [(n, table[n]) for n in names if n in table]
        parts.append(numbers_table(SECTION_TITLES[section], section, rows, shown))
    return "".join(parts)


def _category_order(name: str) -> tuple[int, str]:
    from garmentcli.viz.plots import _category_id

    return _category_id(name), name


def pr_section(coco_results: Mapping[str, CocoResult]) -> str:
    from garmentcli.viz.plots import pr_curves

    parts = []
    for section, title in (("bbox", "Boxes"), ("keypoints", "Keypoints")):
        found = coco_results.get(section)
        if found is None:
            continue
        parts.append(
            _figure(
                pr_curves(found, title, f"pr-{section}"),
                f"{title}: precision at the 101 recall points of COCO's AP (area all, maxDets "
                f"{found.params.max_dets[-1]}); AP is the mean of these curves over categories and thresholds.",
                f"pr-{section}",
            )
        )
    return "".join(parts) or '<p class="note">No AP was computed (see --metrics).</p>'


def confusion_section(confusion: Confusion) -> str:
    from garmentcli.viz.plots import confusion_plot

    if not confusion.category_ids:
        return '<p class="note">Nothing to match.</p>'
    caption = (
        f"Each prediction with score ≥ {confusion.score_threshold:g} matched with the ground-truth garment of its "
        f"image that it overlaps most (box IoU ≥ {confusion.iou_threshold:g}), whatever the categories, each "
        "used once. "
        "Rows: true category; columns: predicted category; <em>missed</em>: garments no prediction matched; "
        "<em>false</em>: predictions that matched no garment. Colour: share of the row."
    )
    return _figure(confusion_plot(confusion, "confusion"), caption, "confusion")


def pck_section(found: Diagnostics | None) -> str:
    from garmentcli.viz.plots import pck_plot

    if found is None:
        return '<p class="note">No landmarks on both sides: no PCK curve.</p>'
    caption = (
        "PCK: share of labelled landmarks within the threshold × the longer side of the ground-truth box "
        "(per landmark type, then averaged; landmarks of garments without a paired prediction count as wrong). "
        f"The dashed line is --pck-threshold {found.pck_threshold:g}, where the curves give the PCK of the tables."
    )
    return _figure(pck_plot(found.thresholds, found.pck_curves, found.pck_threshold, "pck"), caption, "pck")


def landmarks_section(found: Diagnostics | None) -> str:
    from garmentcli.viz.plots import error_legend_svg, template_svg

    if found is None or not found.landmarks:
        return '<p class="note">No landmarks on both sides: no landmark errors.</p>'
    threshold = found.pck_threshold
    intro = (
        '<p class="note">Each category drawn in its typical layout: the mean shape of its ground-truth garments '
        "(Procrustes: each garment turned, scaled and moved onto the mean). A landmark's colour is its median "
        "error (distance / longer side of the box, garments with a paired prediction), its size its miss rate "
        f"(not within {threshold:g}, unpaired garments included). Hover a landmark for its name and figures; "
        "numbers are the DeepFashion2 landmark numbers.</p>"
        f"<figure>{error_legend_svg(threshold)}</figure>"
    )
    cells = []
    for errors in found.landmarks:
        measured = np.flatnonzero(np.nan_to_num(errors.miss_rate) > 0)
        worst = measured[np.argsort(-errors.miss_rate[measured], kind="stable")][:3]
        weak = ", ".join(f"{i + 1} {html.escape(errors.names[i])} ({errors.miss_rate[i]:.0%})" for i in worst.tolist())
        cells.append(
            f'<figure class="template" data-category="{html.escape(errors.name)}">'
            f"{template_svg(errors, threshold)}"
            f"<figcaption><b>{html.escape(errors.name)}</b>: {errors.garments} garments, {errors.paired} paired. "
            + (f"Most missed: {weak}" if weak else "No landmark missed.")
            + "</figcaption></figure>"
        )
    return intro + f'<div class="grid">{"".join(cells)}</div>'


def attributes_section(result: Mapping[str, Any]) -> str | None:
    """Figures per DeepFashion2 attribute value, from the ``by_attribute`` tables; None when there are none."""
    from garmentcli.viz.plots import attribute_bars

    wanted = (("keypoints", "AP", "keypoint AP"), ("bbox", "AP", "box AP"), ("landmarks", None, None))
    labels: list[str] = []
    for section, _, _ in wanted:
        labels += [k for k in (result.get(section) or {}).get("by_attribute", {}) if k not in labels]
    if not labels:
        return None
    groups: dict[str, dict[str, dict[str, float]]] = {}
    for label in labels:
        attribute, _, value = label.partition("=")
        figures: dict[str, float] = {}
        for section, metric, shown in wanted:
            numbers = (result.get(section) or {}).get("by_attribute", {}).get(label, {})
            if metric is not None and metric in numbers:
                figures[shown] = numbers[metric]
            elif metric is None:
                pck = next((k for k in numbers if k.startswith("PCK@")), None)
                if pck:
                    figures[pck] = numbers[pck]
        groups.setdefault(attribute, {})[value] = figures
    parts = [_figure(attribute_bars(groups, "attributes"), "Per DeepFashion2 attribute value.", "attributes")]
    for section, _, _ in wanted:
        table = (result.get(section) or {}).get("by_attribute")
        if not table:
            continue
        metrics = list(dict.fromkeys(m for v in table.values() for m in v))
        if section != "landmarks":
            metrics = [m for m in metrics if m in ("AP", "AP50", "AP75", "AR", "AR100")]
        parts.append(numbers_table(SECTION_TITLES[section], section, list(table.items()), metrics))
    return "".join(parts)


# --- images --------------------------------------------------------------------------------------


def _garments(inst: Instances, rows: Iterable[int]) -> list[Garment]:
    out = []
    width = inst.keypoints.shape[1] if inst.keypoints is not None else 0
    for row in rows:
        category_id = int(inst.category_id[row])
        if inst.keypoints is None:  # boxes only: no landmark to draw
            landmarks = np.zeros((len(landmark_names(category_id)), 3))
        elif width == NUM_LANDMARKS:
            from garmentcli.schema.layout import DF2

            landmarks = inst.keypoints[row, DF2.category(category_id).slice]
        else:
            landmarks = inst.keypoints[row]
        score = None if np.isnan(inst.score[row]) else float(inst.score[row])
        out.append(Garment(category_id, inst.bbox[row], landmarks, score=score))
    return out


def find_image(folder: Path, name: str) -> Path | None:
    """The image ``name`` under ``folder`` (also under ``folder/image/``, a DeepFashion2 split's ``IMAGE_DIR``)."""
    for candidate in (folder / name, folder / IMAGE_DIR / name, folder / Path(name).name):
        if candidate.is_file():
            return candidate
    return None


def _jpeg_uri(image: np.ndarray) -> str:
    scale = PHOTO_HEIGHT / image.shape[0]
    if scale < 1:
        image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), PHOTO_HEIGHT), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _missing(name: str, caption_html: str) -> str:
    return (
        f'<figure class="photo missing" data-image="{html.escape(name)}">'
        f"<figcaption>{caption_html}</figcaption></figure>"
    )


def _photo(
    gt: Instances,
    pred: Instances,
    image_index: int,
    quality: ImageQuality,
    confusion: Confusion,
    found: Diagnostics | None,
    folder: Path,
) -> str:
    from garmentcli.errors import ImageReadError
    from garmentcli.io.images import read_image
    from garmentcli.viz.draw import draw_garments

    image_id = int(quality.image_id[image_index])
    name = gt.image_names.get(image_id, f"image id {image_id}")
    path = find_image(folder, name) if image_id in gt.image_names else None
    gt_rows = np.flatnonzero(gt.image_id == image_id)
    pred_rows = np.flatnonzero(pred.image_id == image_id)
    partners = set()
    if found is not None:
        partners = {int(p) for p in found.partner[gt_rows] if p >= 0}
    confident = {int(r) for r in pred_rows if confusion.pred_match[r] != -2}
    shown = sorted(partners | confident)
    figures = (
        f"{quality.garments[image_index]} garments, {quality.missed[image_index]} missed, "
        f"{quality.false[image_index]} false"
    )
    value = quality.quality[image_index]
    similarity = "mean OKS" if found is not None else "mean box IoU"
    caption = f"<code>{html.escape(name)}</code> — {similarity} {value:.3f}; {figures}"
    if path is None:
        return _missing(name, f"{caption} (image not found under {html.escape(str(folder))})")
    try:
        image = read_image(path)
    except ImageReadError as exc:
        return _missing(name, f"{caption} ({html.escape(str(exc))})")
    truth = draw_garments(image, _garments(gt, gt_rows))
    guess = draw_garments(image, _garments(pred, shown))
    details = []
    if found is not None:
        for row in gt_rows.tolist():
            if np.isnan(found.oks[row]):
                continue
            mate = int(found.partner[row])
            got = f"{category_name(int(pred.category_id[mate]))} OKS {found.oks[row]:.2f}" if mate >= 0 else "missed"
            details.append(f"{category_name(int(gt.category_id[row]))} → {got}")
    detail = f"<br>{html.escape('; '.join(details))}" if details else ""
    return (
        f'<figure class="photo" data-image="{html.escape(name)}"><div class="pair">'
        f'<div><img alt="ground truth of {html.escape(name)}" src="{_jpeg_uri(truth)}">ground truth</div>'
        f'<div><img alt="prediction on {html.escape(name)}" src="{_jpeg_uri(guess)}">prediction</div>'
        f"</div><figcaption>{caption}{detail}</figcaption></figure>"
    )


def images_section(
    gt: Instances,
    pred: Instances,
    quality: ImageQuality,
    confusion: Confusion,
    found: Diagnostics | None,
    folder: Path,
    worst: int = WORST_IMAGES,
    best: int = BEST_IMAGES,
) -> str:
    worst_rows = quality.worst(worst)
    best_rows = quality.best(best, worst_rows)
    what = "OKS" if found is not None else "box IoU (same category)"
    intro = (
        f'<p class="note">Images ranked by the mean {what} of their garments with their predictions, missed garments '
        f"and false detections (score ≥ {confusion.score_threshold:g}, no garment matched) counting 0. Left: ground "
        "truth; right: the predictions paired with a garment or above the score threshold.</p>"
    )
    parts = [intro, f"<h3>The {len(worst_rows)} worst</h3>", '<div class="grid" id="worst-images">']
    parts += [_photo(gt, pred, i, quality, confusion, found, folder) for i in worst_rows.tolist()]
    parts += ["</div>", f"<h3>{len(best_rows)} of the best</h3>", '<div class="grid" id="best-images">']
    parts += [_photo(gt, pred, i, quality, confusion, found, folder) for i in best_rows.tolist()]
    parts.append("</div>")
    return "".join(parts)


def eval_report(
    gt: Instances,
    pred: Instances,
    result: dict[str, Any],
    coco_results: Mapping[str, CocoResult],
    provenance: Provenance,
    *,
    pairing: str = "auto",
    pck_threshold: float = 0.2,
    images: Path | None = None,
) -> str:
    """The report's HTML for ``result`` (``evaluate`` with per-category and, when the ground truth has
    attributes, by-attribute tables) and the CocoResults ``evaluate`` filled in."""
    from garmentcli.metrics.confusion import confusion_matrix
    from garmentcli.metrics.diagnostics import diagnose, image_quality

    found = diagnose(gt, pred, pairing, pck_threshold) if "landmarks" in result or "keypoints" in result else None
    confusion = confusion_matrix(gt, pred)
    sections = [
        ("summary", "Summary", summary_section(result)),
        ("per-category", "Per category", per_category_section(result)),
        ("pr-curves", "Precision–recall", pr_section(coco_results)),
        ("confusion", "Confusion", confusion_section(confusion)),
        ("pck", "PCK by threshold", pck_section(found)),
        ("landmarks", "Landmark errors", landmarks_section(found)),
    ]
    if images is not None:
        quality = image_quality(gt, pred, confusion, found)
        sections.append(
            ("images", "Worst and best images", images_section(gt, pred, quality, confusion, found, images))
        )
    attributes = attributes_section(result)
    if attributes is not None:
        sections.append(("attributes", "By attribute", attributes))
    return page("garmentkp eval report", provenance, sections, result, "eval-result")


def write_eval_report(
    path: Path,
    gt: Instances,
    pred: Instances,
    result: dict[str, Any],
    coco_results: Mapping[str, CocoResult],
    *,
    gt_path: Path,
    pred_path: Path,
    images: Path | None = None,
    pairing: str = "auto",
    pck_threshold: float = 0.2,
) -> None:
    """Build the report of one ``eval`` run and write it atomically to ``path``."""
    from garmentcli.io.atomic import atomic_write

    inputs = [("ground truth", str(gt_path)), ("predictions", str(pred_path))]
    if images is not None:
        inputs.append(("images", str(images)))
    provenance = Provenance(command=command_line(), inputs=inputs, run=recorded_run(pred_path))
    text = eval_report(
        gt, pred, result, coco_results, provenance, pairing=pairing, pck_threshold=pck_threshold, images=images
    )
    with atomic_write(path, "w") as handle:
        handle.write(text)
