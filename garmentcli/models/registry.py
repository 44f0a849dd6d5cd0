"""Where models live and how ``--model`` finds them: a bundled name, a cached name, or a path.

A model is an ONNX file with its card beside it (``name.onnx`` + ``name.json``); the card is also
embedded in the ONNX metadata, so a lone ``.onnx`` file still describes itself. A training
checkpoint (``.pt``) is accepted too, for the torch backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from garmentcli.choices import AUTO_PRECISION, DEFAULT_MODEL, FLOAT32, INT8, PRECISIONS
from garmentcli.errors import GarmentError, InputError, ModelNotFoundError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.digest import file_sha256
from garmentcli.models.card import METADATA_KEY, ModelCard

BUNDLED_DIR = Path(__file__).parent / "bundled"
"""Models shipped inside the package."""


def cache_dir() -> Path:
    """Folder of the user's own named models: ``$GARMENTKP_MODEL_DIR`` or ``~/.cache/garmentkp/models``."""
    override = os.environ.get("GARMENTKP_MODEL_DIR")
    return Path(override) if override else Path.home() / ".cache" / "garmentkp" / "models"


@dataclass(frozen=True)
class ModelFiles:
    """A resolved model: its ONNX graph and/or training checkpoint, and its card."""

    name: str
    card: ModelCard
    onnx: Path | None = None
    checkpoint: Path | None = None
    origin: str = "path"
    """``bundled``, ``cached`` or ``path``."""


def card_path(model: Path) -> Path:
    """The card beside a model file: ``name.onnx`` -> ``name.json``."""
    return Path(model).with_suffix(".json")


def model_of_card(path: Path) -> Path | None:
    """The ONNX model whose card ``path`` would be (it exists beside it), else None.

    Outputs are refused at such a path: writing there would replace the card and break the model.
    """
    path = Path(path)
    model = path.with_suffix(".onnx")
    return model if path.suffix.lower() == ".json" and card_path(model) == path and model.is_file() else None


def is_model_card(path: Path) -> bool:
    """Whether ``path`` holds a readable model card."""
    try:
        ModelCard.read(path)
    except GarmentError:
        return False
    return True


def _card_from_onnx(path: Path) -> ModelCard:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise InputError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from exc
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if text is None:
        raise InputError(f"{path}: no model card beside it ({card_path(path).name}) nor inside it")
    return ModelCard.from_dict(orjson.loads(text), str(path))


def _card_from_checkpoint(path: Path) -> ModelCard:
    from garmentcli.models.checkpoint import load_checkpoint, stored_config

    return ModelCard(name=path.stem, config=stored_config(load_checkpoint(path)))


def load_model_files(path: Path, origin: str = "path") -> ModelFiles:
    """Describe the model at ``path`` (``.onnx`` with its card, or a ``.pt`` checkpoint)."""
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: model file not found")
    if path.suffix == ".pt":
        return ModelFiles(path.stem, _card_from_checkpoint(path), checkpoint=path, origin=origin)
    if path.suffix != ".onnx":
        raise InputError(f"{path}: a model is an .onnx file (with its .json card) or a .pt checkpoint")
    beside = card_path(path)
    card = ModelCard.read(beside) if beside.is_file() else _card_from_onnx(path)
    return ModelFiles(path.stem, card, onnx=path, origin=origin)


def write_model(graph: Any, card: ModelCard, path: Path) -> None:
    """Write an ONNX graph (an ``onnx.ModelProto``) with ``card`` in its metadata, and the card beside it,
    each atomically (``export`` and ``quantize``)."""
    import onnx

    onnx.helper.set_model_props(graph, {METADATA_KEY: card.to_json().decode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        handle.write(graph.SerializeToString())
    with atomic_write(card_path(path), "wb") as handle:
        handle.write(card.to_json())


def model_sha256(files: ModelFiles) -> str:
    """SHA-256 of the model's file (the ONNX graph, else the checkpoint): outputs record it with the name."""
    path = files.onnx or files.checkpoint
    return "" if path is None else file_sha256(path)


INT8_SUFFIX = "-int8"
"""A model's int8 variant: ``default`` -> ``default-int8``; ``models/m.onnx`` -> ``models/m-int8.onnx``."""


def int8_spec(spec: str | Path) -> str:
    """The model spec (bundled or cached name, or path) of ``spec``'s int8 variant (``garmentkp quantize``)."""
    path = Path(spec)
    if path.suffix == ".onnx":
        return str(path if path.stem.endswith(INT8_SUFFIX) else path.with_name(path.stem + INT8_SUFFIX + ".onnx"))
    if path.suffix == ".pt":
        raise InputError(f"--precision int8: {spec} is a training checkpoint; export it, then garmentkp quantize")
    return str(spec) if str(spec).endswith(INT8_SUFFIX) else f"{spec}{INT8_SUFFIX}"


def resolve_model(spec: str | Path = DEFAULT_MODEL, precision: str = FLOAT32) -> ModelFiles:
    """A path to a model file, else a bundled name, else a name in :func:`cache_dir`; with ``precision``
    ``int8``, the int8 variant of that model (:func:`int8_spec`)."""
    if precision == INT8:
        try:
            files = resolve_model(int8_spec(spec))
        except ModelNotFoundError:
            raise ModelNotFoundError(
                f"--precision int8: model {spec!r} has no int8 variant ({int8_spec(spec)}); "
                f"make it with: garmentkp quantize CALIBRATION_IMAGES --model {spec}"
            ) from None
        if files.card.precision != INT8:
            raise InputError(f"--precision int8: {files.onnx} is not an int8 model (its card: {files.card.precision})")
        return files
    if precision != FLOAT32:
        raise InputError(f"unknown precision {precision!r} ({' or '.join(PRECISIONS)})")
    path = Path(spec)
    if path.suffix in {".onnx", ".pt"} or path.is_file():
        return load_model_files(path)
    for origin, folder in (("bundled", BUNDLED_DIR), ("cached", cache_dir())):
        candidate = folder / f"{spec}.onnx"
        if candidate.is_file():
            return load_model_files(candidate, origin)
    known = ", ".join(m.name for m in list_models()) or "none installed"
    raise ModelNotFoundError(
        f"model {spec!r} not found: not a file, not bundled, not in {cache_dir()} (known: {known})"
    )


def precision_spec(spec: str, precision: str, backend: str, device: str) -> str:
    """The model spec that ``--model spec --precision precision`` runs with ``backend`` on ``device``.

    ``float32``: ``spec`` as given. ``int8``: its int8 variant (a one-line error when it has none).
    ``auto``: the int8 variant where int8 is faster, onnxruntime on the CPU, when the model has one (a bundled
    model does; ``garmentkp quantize`` makes one), else ``spec`` as given: a model already int8 stays itself,
    a training checkpoint, the torch backend and CUDA run the float graph.
    """
    if precision == AUTO_PRECISION:
        if backend != "onnx" or device != "cpu" or Path(spec).suffix == ".pt":
            return spec
        try:
            resolve_model(spec, INT8)
        except ModelNotFoundError:
            return spec
        return int8_spec(spec)
    if precision == INT8:
        resolve_model(spec, INT8)
        return int8_spec(spec)
    resolve_model(spec, precision)  # an unknown precision is a one-line error here
    return spec


def list_models(on_error: Callable[[str], None] | None = None) -> list[ModelFiles]:
    """Every bundled and cached ONNX model, bundled first, each folder sorted by name (an int8 variant right
    after its float model).

    A model that cannot be read goes to ``on_error(message)`` and is left out (default: skipped silently).
    """
    found = []
    for origin, folder in (("bundled", BUNDLED_DIR), ("cached", cache_dir())):
        paths = (
            sorted(folder.glob("*.onnx"), key=lambda p: (p.stem.removesuffix(INT8_SUFFIX), p.stem))
            if folder.is_dir()
            else []
        )
        for path in paths:
            try:
                found.append(load_model_files(path, origin))
            except GarmentError as exc:
                if on_error is not None:
                    on_error(str(exc))
    return found
