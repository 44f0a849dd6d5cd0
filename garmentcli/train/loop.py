"""The training loop: data, model, optimiser, schedule, validation, checkpoints and logs of one run.

One epoch = one pass over the training samples in an order drawn from ``(seed, epoch)``. After
every epoch the run folder gets ``last.pt`` (everything needed to resume), ``best.pt`` when the
validation figure of the family improved (keypoint AP; box AP for a box-only detector, accuracy for the
classifier; without validation data, the lowest training loss),
``log.csv`` and ``curves.png``. ``resume`` continues from a ``last.pt`` so that the resumed run
computes exactly what the uninterrupted one would have (same order, same augmentation, same RNG).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from garmentcli.errors import InputError, require_torch
from garmentcli.models.checkpoint import load_checkpoint, restore_rng_state, save_checkpoint
from garmentcli.models.config import ARCHITECTURE, SCRATCH_BACKBONE, AnyConfig, CropConfig, TopDownConfig
from garmentcli.models.network import count_parameters
from garmentcli.runtime.backends import DEVICES
from garmentcli.train.augment import AugmentConfig
from garmentcli.train.data import Sample
from garmentcli.train.families import family, family_of
from garmentcli.train.losses import LossWeights
from garmentcli.train.runlog import plot_curves, write_csv

torch = require_torch()

ProgressHook = Callable[[str, int, int, dict[str, float]], None]
"""``hook(phase, done, total, figures)``: called after every training step and at the end of each epoch."""


@dataclass
class TrainOptions:
    """Everything that decides what a run computes (stored in every checkpoint)."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    workers: int = 0
    device: str = "cpu"
    seed: int = 0
    grad_clip: float = 10.0
    pretrained: bool = True
    """Start an EfficientNet-Lite backbone from its ImageNet weights (ignored by the from-scratch backbone)."""
    freeze_stages: int = 2
    """Backbone stages (of 5: stem to stride 2, then strides 4, 8, 16, 32) kept frozen, batch norms included:
    the early, generic features carry from synthetic to real photos best untouched (Hinterstoisser et al.
    2018), and their backward pass is the costliest on a CPU. Only with ``pretrained``."""
    backbone_lr: float = 0.5
    """Learning rate of the trainable backbone stages relative to ``lr`` (pretrained backbones only)."""
    init: str | None = None
    """The model (name or path) whose weights a fresh run starts from, in place of ImageNet's
    (:mod:`garmentcli.train.init`); the run's config is that model's."""
    group: str | None = None
    """A per-group fine-tune (RTFPose's): only the head trains, on the crops of this garment group's categories
    (:data:`~garmentcli.schema.garment_groups.GARMENT_GROUPS`), the trunk stays as ``init`` gave it."""
    graft: str | None = None
    """The garment classifier's checkpoint whose trunk a fresh two-stage detector starts from, in place of
    ImageNet's (clothNet's grafting, :mod:`garmentcli.train.graft`)."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    weights: LossWeights = field(default_factory=LossWeights)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(name: str) -> Any:
    """``cpu`` or ``cuda``; asking for CUDA without a GPU is a one-line user error."""
    if name not in DEVICES:
        raise InputError(f"--device must be {' or '.join(DEVICES)}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available to torch here")
    return torch.device(name)


def _pretrained(config: AnyConfig, options: TrainOptions) -> bool:
    return options.pretrained and config.backbone != SCRATCH_BACKBONE


def frozen_stages(network: Any, options: TrainOptions) -> list[Any]:
    """The backbone stages that training leaves untouched (weights and batch-norm statistics); the whole trunk of a
    per-group fine-tune."""
    if options.group is not None:
        return network.trunk()
    if not _pretrained(network.config, options):
        return []
    return network.backbone.stages()[: options.freeze_stages]


def _parameter_groups(network: Any, options: TrainOptions) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on convolution weights only, none on norms and biases; frozen stages left out;
    a pretrained backbone at ``backbone_lr`` times the learning rate."""
    frozen = {id(p) for stage in frozen_stages(network, options) for p in stage.parameters()}
    backbone = {id(p) for p in network.backbone.parameters()} if _pretrained(network.config, options) else set()
    groups = []
    for in_backbone in (False, True):
        for decayed in (True, False):
            params = [
                p
                for p in network.parameters()
                if id(p) not in frozen and (id(p) in backbone) == in_backbone and (p.ndim > 1) == decayed
            ]
            lr = options.lr * (options.backbone_lr if in_backbone else 1.0)
            groups.append({"params": params, "weight_decay": options.weight_decay if decayed else 0.0, "lr": lr})
    return [g for g in groups if g["params"]]


def _loader(dataset: Any, options: TrainOptions, epoch: int, shuffle: bool) -> Any:
    generator = torch.Generator().manual_seed(options.seed * 1_000_003 + epoch)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=options.batch_size,
        shuffle=shuffle,
        drop_last=shuffle,
        num_workers=options.workers,
        generator=generator,
        pin_memory=options.device == "cuda",
    )


@dataclass
class Trainer:
    """A run in progress: build with :meth:`create` (fresh) or :meth:`resume`, then :meth:`fit`."""

    out: Path
    config: AnyConfig
    """The network's config; its type picks the model family (:func:`~garmentcli.train.families.family_of`)."""
    options: TrainOptions
    train_samples: Sequence[Sample]
    val_samples: Sequence[Sample]
    network: Any = None
    optimizer: Any = None
    scheduler: Any = None
    scaler: Any = None
    epoch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = -math.inf
    fresh: bool = True
    """A new run (pretrained weights are loaded); False when :func:`resume_trainer` restores a checkpoint."""
    val_data: list[str] = field(default_factory=list)
    """The validation DATA arguments (``--val``), stored in every checkpoint so a resumed run validates on them."""

    def __post_init__(self) -> None:
        from garmentcli.train.schedule import make_scheduler

        torch.manual_seed(self.options.seed)
        if self.options.group is not None:
            from garmentcli.train.topdown_data import only_group

            if not isinstance(self.config, TopDownConfig) or self.config.heads:
                raise InputError(f"--group {self.options.group}: only a one-head rtfpose model fine-tunes per group")
            if self.fresh and self.options.init is None:
                raise InputError(
                    f"--group {self.options.group}: fine-tunes the head of a trained shared model; "
                    "give it with --init SHARED.pt"
                )
            self.train_samples = only_group(self.train_samples, self.options.group)
            self.val_samples = only_group(self.val_samples, self.options.group)
        self.device = resolve_device(self.options.device)
        self.family = family_of(self.config)
        self.config = self.family.fit_config(self.config, self.train_samples)
        self.network = self.family.build(self.config)
        self.train_set = self.family.dataset(self.train_samples, self.config, self.options.augment, self.options.seed)
        if self.fresh and self.options.graft is not None:
            from garmentcli.train.graft import graft_backbone

            graft_backbone(self.network, Path(self.options.graft))
        elif self.fresh and self.options.init is not None:
            from garmentcli.train.init import init_model, load_init_weights

            batches = _loader(self.train_set, self.options, epoch=0, shuffle=True)
            load_init_weights(self.network, init_model(self.options.init), batches)
        elif self.fresh and _pretrained(self.config, self.options):
            from garmentcli.models.efficientnet_lite import load_imagenet_weights

            load_imagenet_weights(self.network.backbone)
        self.frozen = frozen_stages(self.network, self.options)
        for stage in self.frozen:
            stage.requires_grad_(False)
        self.network.to(self.device)
        self.optimizer = torch.optim.AdamW(_parameter_groups(self.network, self.options), lr=self.options.lr)
        self.steps_per_epoch = max(1, len(self.train_set) // self.options.batch_size)
        if len(self.train_set) < self.options.batch_size:
            items = "annotated garments" if isinstance(self.config, CropConfig) else "images"
            raise InputError(
                f"{len(self.train_set)} training {items} are fewer than one batch of {self.options.batch_size}"
            )
        total = self.options.epochs * self.steps_per_epoch
        self.scheduler = make_scheduler(self.optimizer, min(self.options.warmup_steps, total // 4), total)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda")

    @property
    def parameters(self) -> int:
        return count_parameters(self.network)

    def state(self) -> dict[str, Any]:
        """The checkpoint payload (see :mod:`garmentcli.models.checkpoint`)."""
        return {
            "model": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "architecture": self.family.architecture,
            "config": self.config.to_dict(),
            "options": self.options.to_dict(),
            "history": self.history,
            "best_score": self.best_score,
            "val_data": list(self.val_data),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"] and self.scaler.is_enabled():  # empty when saved by a CPU run; moving to CUDA starts fresh
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = list(state["history"])
        self.best_score = float(state["best_score"])
        restore_rng_state(state["rng"])

    def train_epoch(self, hook: ProgressHook | None) -> dict[str, float]:
        """One pass over the training data; returns the mean of every loss term."""
        self.network.train()
        for stage in self.frozen:
            stage.eval()  # frozen batch norms keep their ImageNet statistics
        self.train_set.set_epoch(self.epoch)
        sums: dict[str, float] = {}
        steps = 0
        autocast = self.device.type == "cuda"
        for images, targets in _loader(self.train_set, self.options, self.epoch, shuffle=True):
            images = images.to(self.device, non_blocking=True).float()
            targets = {k: v.to(self.device, non_blocking=True) for k, v in targets.items()}
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=autocast):
                outputs = self.family.forward(self.network, images, targets)
            terms = self.family.losses(outputs, targets, self.options)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(terms["loss"]).backward()
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.options.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.step += 1
            steps += 1
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            if hook is not None:
                hook("train", steps, self.steps_per_epoch, {"loss": float(terms["loss"].detach())})
        return {name: total / max(1, steps) for name, total in sums.items()}

    def fit(self, hook: ProgressHook | None = None, stop_after: int | None = None) -> list[dict[str, float]]:
        """Train the remaining epochs (or up to epoch ``stop_after``), checkpointing and logging after each."""
        self.out.mkdir(parents=True, exist_ok=True)
        last = self.options.epochs if stop_after is None else min(stop_after, self.options.epochs)
        while self.epoch < last:
            started = time.perf_counter()
            row: dict[str, float] = {"epoch": self.epoch + 1}
            row.update(self.train_epoch(hook))
            row["lr"] = self.optimizer.param_groups[0]["lr"]
            row["step"] = self.step
            if self.val_samples:
                row.update(self.family.validate(self.network, self.config, self.val_samples, self.device))
            row["seconds"] = round(time.perf_counter() - started, 1)
            self.epoch += 1
            self.history.append(row)
            score = row.get(self.family.score, -row["loss"])
            improved = score > self.best_score
            if improved:
                self.best_score = score
            state = self.state()
            save_checkpoint(self.out / "last.pt", state)
            if improved:
                save_checkpoint(self.out / "best.pt", state)
            write_csv(self.history, self.out / "log.csv")
            plot_curves(self.history, self.out / "curves.png")
            if hook is not None:
                hook("epoch", self.epoch, self.options.epochs, row)
        return self.history


def stored_validation(checkpoint: Path) -> list[str]:
    """The validation DATA arguments a checkpoint was trained with (empty for checkpoints made before they
    were stored, or without validation)."""
    return [str(spec) for spec in load_checkpoint(checkpoint).get("val_data") or []]


def resume_trainer(
    checkpoint: Path,
    out: Path,
    train_samples: Sequence[Sample],
    val_samples: Sequence[Sample],
    epochs: int | None = None,
    device: str | None = None,
    workers: int | None = None,
    val_data: Sequence[str] | None = None,
) -> Trainer:
    """A run continued from ``checkpoint`` with its stored config and options.

    ``epochs`` may extend the run (the cosine schedule is then stretched to the new end, so the
    learning rate rises again); ``device`` and ``workers`` may change without changing the math.
    ``val_data`` names ``val_samples`` in the checkpoints to come (default: the stored names).
    """
    state = load_checkpoint(checkpoint)
    options = options_from_dict(state["options"])
    if epochs is not None:
        options.epochs = epochs
    if device is not None:
        options.device = device
    if workers is not None:
        options.workers = workers
    config = family(state.get("architecture", ARCHITECTURE)).config_type.from_dict(state["config"])
    stored = [str(spec) for spec in state.get("val_data") or []]
    trainer = Trainer(out, config, options, train_samples, val_samples, fresh=False, val_data=list(val_data or stored))
    trainer.load_state(state)
    return trainer


def options_from_dict(data: dict[str, Any]) -> TrainOptions:
    """Rebuild :class:`TrainOptions` from its checkpoint form."""
    values = dict(data)
    augment = {k: tuple(v) if isinstance(v, list) else v for k, v in values.pop("augment").items()}
    weights = values.pop("weights")
    return TrainOptions(**values, augment=AugmentConfig(**augment), weights=LossWeights(**weights))
