"""Training data: DATA arguments -> (image path, garments) samples -> a torch Dataset of network inputs + targets.

A DATA argument is one of

- a DeepFashion2 split folder (``annos/`` + ``image/``) — also what ``garmentkp synth`` writes;
- an FLD folder (``Anno/list_landmarks.txt`` beside the ``img/`` folder);
- a COCO keypoint JSON, its images found beside it, in ``image/`` or ``images/`` next to it,
  or in an explicit folder given as ``coco.json@path/to/images``;
- weakly-labelled photos as ``PHOTO_DIR@MAPPING.json``: a folder per class and a mapping of each
  class to the categories it allows (:mod:`garmentcli.io.folder_labels`): no boxes or landmarks,
  only which categories the photo may show (none for hard negatives such as hats and shoes).

Annotations are read with :func:`garmentcli.io.formats.read_annotations`; targets are made by
the model's :class:`~garmentcli.models.codec.TargetCodec` (the one source of truth shared with
the decoder). Each sample's augmentation draws from a generator seeded by ``(seed, epoch, index)``,
so an epoch is the same whatever the worker count, and a resumed run repeats it exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from garmentcli.errors import InputError, require_torch
from garmentcli.io.df2 import IMAGE_DIR
from garmentcli.io.images import read_image
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord
from garmentcli.train.augment import AugmentConfig, augment_sample, warp_sample

torch = require_torch()


@dataclass(frozen=True)
class Sample:
    """One training image: where its pixels are and its annotation record."""

    path: Path
    record: ImageRecord
    allowed: frozenset[int] | None = None
    """For a weakly-labelled photo, the category ids its garment may have (empty: it shows no garment);
    ``None`` for a fully annotated image."""

    @property
    def weak(self) -> bool:
        return self.allowed is not None


def _split_spec(spec: str) -> tuple[Path, Path | None]:
    """``coco.json@images/`` -> (annotation path, explicit image folder)."""
    if "@" in spec and not Path(spec).exists():
        annotations, images = spec.rsplit("@", 1)
        return Path(annotations), Path(images)
    return Path(spec), None


def _image_roots(path: Path, explicit: Path | None) -> list[Path]:
    """Folders where the records' ``file_name`` may be relative to, most specific first."""
    if explicit is not None:
        return [explicit]
    base = path if path.is_dir() else path.parent
    return [base / IMAGE_DIR, base / "images", base / "img", base]


def _resolve(root_candidates: list[Path], record: ImageRecord) -> Path | None:
    for root in root_candidates:
        candidate = root / record.file_name
        if candidate.is_file():
            return candidate
    return None


def _weak_samples(root: Path, mapping: Path, on_error: Callable[[str], None]) -> list[Sample]:
    """The photos of a ``PHOTO_DIR@MAPPING.json`` source as samples without garments (unreadable ones reported)."""
    from garmentcli.errors import ImageReadError
    from garmentcli.io.folder_labels import read_labelled_photos
    from garmentcli.io.images import image_size

    samples: list[Sample] = []
    for photo in read_labelled_photos(root, mapping):
        try:
            width, height = image_size(photo.path)
        except ImageReadError as exc:
            on_error(str(exc))
            continue
        samples.append(Sample(photo.path, ImageRecord(len(samples) + 1, photo.name, width, height, []), photo.allowed))
    return samples


def load_samples(specs: Sequence[str], on_error: Callable[[str], None]) -> list[Sample]:
    """Read every DATA argument into samples; images that cannot be found are reported and skipped.

    Images holding garments of categories outside DeepFashion2 (FLD's 8-point clothes types) cannot
    be encoded by the DeepFashion2 codec: they are skipped and counted in one message per source.
    """
    from garmentcli.io.formats import read_annotations

    samples: list[Sample] = []
    for spec in specs:
        path, explicit = _split_spec(spec)
        if not path.exists():
            raise InputError(f"{path}: training data not found")
        if path.is_dir() and explicit is not None and explicit.suffix == ".json":
            samples += _weak_samples(path, explicit, on_error)
            continue
        if explicit is not None and not explicit.is_dir():
            raise InputError(f"{explicit}: image folder not found")
        annotations: AnnotationSet = read_annotations(
            path, on_error=lambda message, p=path: on_error(f"{p}: {message}")
        )
        roots = _image_roots(path, explicit)
        foreign = 0
        for record in annotations.images:
            image_path = _resolve(roots, record)
            if image_path is None:
                on_error(f"{path}: image {record.file_name} not found in {', '.join(str(r) for r in roots)}")
                continue
            kept = [g for g in record.garments if g.category_id in DF2.by_id]
            if len(kept) < len(record.garments):
                # an image whose garments cannot all be encoded would teach the network to miss the others
                foreign += 1
                continue
            samples.append(Sample(image_path, record))
        if foreign:
            on_error(
                f"{path}: {foreign} images skipped: they hold garments outside the 13 DeepFashion2 categories "
                "(FLD clothes types), which the DeepFashion2 network cannot be trained on"
            )
    if not samples:
        raise InputError(f"no training images found in {', '.join(specs)}")
    return samples


class SeededDataset(torch.utils.data.Dataset):
    """A dataset whose item ``index`` draws its randomness from ``(seed, epoch, index)`` (:meth:`rng`): an epoch is
    the same whatever the worker count, and a resumed run repeats it. Set the epoch before iterating."""

    def __init__(self, augment: AugmentConfig | None, seed: int) -> None:
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, self.epoch, index))


class GarmentDataset(SeededDataset):
    """Samples as ``(uint8 BGR image tensor (3, S, S), {target name: tensor})`` pairs for the network.

    ``augment=None`` gives plain letterboxing (validation). Set the epoch before iterating so the
    random augmentation of each sample differs between epochs yet is reproducible.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        codec: Any,
        input_size: int,
        augment: AugmentConfig | None,
        seed: int = 0,
    ) -> None:
        super().__init__(augment, seed)
        self.samples = list(samples)
        self.codec = codec
        self.input_size = input_size

    def __len__(self) -> int:
        return len(self.samples)

    def prepare(self, index: int) -> tuple[np.ndarray, list[Garment], np.ndarray]:
        """The letterboxed (and, for training, augmented) image, its garments and the image->input matrix."""
        sample = self.samples[index]
        image = read_image(sample.path)
        rng = self.rng(index)
        if self.augment is None:
            return warp_sample(image, sample.record.garments, self.input_size, AugmentConfig.off(), rng)
        return augment_sample(image, sample.record.garments, self.input_size, self.augment, rng)

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        canvas, garments, _ = self.prepare(index)
        targets = self.codec.encode(garments, (self.input_size, self.input_size))
        targets.update(weak_targets(self.samples[index].allowed, self.codec.config.num_categories))
        image = torch.from_numpy(np.ascontiguousarray(canvas.transpose(2, 0, 1)))
        return image, {name: torch.from_numpy(np.asarray(value)) for name, value in targets.items()}


def weak_targets(allowed: frozenset[int] | None, num_categories: int) -> dict[str, np.ndarray]:
    """``weak`` (1 for a weakly-labelled photo) and ``allowed`` (its allowed categories as a 0/1 vector).

    Every sample carries both, so that batches mixing both kinds of data collate.
    """
    vector = np.zeros(num_categories, np.float32)
    for category in allowed or ():
        vector[category - 1] = 1.0
    return {"weak": np.float32(allowed is not None), "allowed": vector}
