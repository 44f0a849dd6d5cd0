"""``garmentkp train``: train the garment network on DeepFashion2 / COCO / synth data (needs torch)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from garmentcli.cli import common
from garmentcli.errors import InputError, require_torch

LOG_EVERY_STEPS = 25
"""Without a terminal (a log file), a progress line is printed every this many steps."""

DEFAULT_INPUT_SIZE = 256


def parse_arch(pairs: list[str], families: Iterable[str] = ()) -> tuple[str | None, dict[str, Any]]:
    """``["rtfpose", "channels=96"]`` -> ``("rtfpose", {"channels": 96})``; ``["width=48", "depth=1,2,4,2",
    "backbone=efficientnet-lite1"]`` -> ``(None, {"width": 48, "depth": [1, 2, 4, 2], "backbone":
    "efficientnet-lite1"})``: a family name (one of ``families``), and config fields (values read as JSON, else
    kept as a name)."""
    family: str | None = None
    arch: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep and key in families:
            if family is not None and family != key:
                raise InputError(f"--arch {key}: a second model family after {family}")
            family = key
            continue
        if not sep or not key:
            known = f"a model family ({', '.join(families)}) or " if families else ""
            raise InputError(f"--arch {pair!r}: expected {known}KEY=VALUE, e.g. width=48 or depth=1,2,4,2")
        try:
            arch[key] = json.loads(f"[{raw}]" if "," in raw else raw)
        except json.JSONDecodeError as exc:
            if "," in raw or not raw:
                raise InputError(f"--arch {pair!r}: value is not a number, a name or a list of numbers") from exc
            arch[key] = raw  # a name, e.g. backbone=efficientnet-lite0
    return family, arch


def train(
    data: Annotated[
        list[str],
        typer.Argument(
            help="Training data: DeepFashion2 split or synth folder, FLD folder, COCO JSON "
            "(images beside it, or COCO.json@IMAGE_DIR), or weakly-labelled photos as PHOTO_DIR@MAPPING.json "
            "(a folder per class, the mapping names the categories each class allows). Several may be mixed.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (checkpoints, log.csv, curves.png).")],
    val: Annotated[
        list[str] | None, typer.Option("--val", help="Validation data (same forms as DATA); repeatable.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs in all (default 30; on --resume: may extend).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per optimiser step.")] = 16,
    input_size: Annotated[
        int | None,
        typer.Option(
            "--input-size",
            help="Network input side, a multiple of 32 (default: centernet and kgdet 256, fasterrcnn and maskrcnn 512, "
            "classifier 224; the top-down models' crop is set by --arch).",
            show_default=False,
        ),
    ] = None,
    lr: Annotated[float, typer.Option(help="Peak AdamW learning rate.")] = 2e-3,
    warmup: Annotated[int, typer.Option(help="Linear warm-up steps before the cosine decay.")] = 200,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Data-loading worker processes (default 0: in the main process).")
    ] = None,
    device: Annotated[
        common.DeviceName | None, typer.Option(help="cpu (default) or cuda (mixed precision on CUDA).")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="torch CPU threads (default: torch's choice).")] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue a run from its last.pt (its stored settings are used).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of initialisation, shuffling and augmentation.")] = 0,
    arch: Annotated[
        list[str] | None,
        typer.Option(
            help="The model family, centernet (the one-stage detector, default), kgdet (the keypoint-guided one-stage "
            "detector), rtfpose or cspn (the top-down landmark models: garment crops, landmarks only), and network "
            "options KEY=VALUE of its config, "
            "repeatable. centernet (ModelConfig): backbone=efficientnet-lite0 (default), -lite1, -lite2, or "
            "inverted-residual (from scratch, shaped by width=, depth=, expansion=). rtfpose (TopDownConfig): "
            "input_width=192, input_height=256, mecs=, csff=, safe= (true/false, the RTFPose modules), channels=, "
            "hidden=, backbone=. cspn (CspnConfig): input_width=192, input_height=256, stages=4, channels=128, "
            "sigma=2.0, backbone=. kgdet (KgdetConfig): informative=encoded or selected, informative_points=9, "
            "refinements=2, strides=16,32, neck_channels=96, head_channels=96, backbone=."
            " fasterrcnn, maskrcnn (clothNet's two-stage detectors, boxes and masks, no "
            "landmarks; FasterRcnnConfig, MaskRcnnConfig): fpn_channels=128, box_head=1024, max_detections=20, "
            "mask_channels=256 (maskrcnn), backbone=. classifier (ClassifierConfig, clothNet's first stage, on "
            "PHOTO_DIR@MAPPING.json photos, one class per folder): dropout=0.2, backbone=."
        ),
    ] = None,
    pretrained: Annotated[
        bool, typer.Option(help="Start an EfficientNet-Lite backbone from its ImageNet weights.")
    ] = True,
    freeze_stages: Annotated[
        int,
        typer.Option(min=0, max=5, help="Pretrained backbone stages (of 5, shallowest first) kept frozen."),
    ] = 2,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="Self-training: where this model is sure of a garment on a weakly-labelled photo, its detection "
            "of an allowed category there becomes the box and landmark target (a bundled name or an .onnx/.pt path)."
        ),
    ] = None,
    teacher_score: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Least score of the teacher's best detection on a photo for it to get targets."
        ),
    ] = 0.5,
    backbone_lr: Annotated[
        float, typer.Option(min=0.0, help="Learning rate of the pretrained backbone relative to --lr.")
    ] = 0.5,
    init: Annotated[
        str | None,
        typer.Option(
            help="Start from this trained model's weights instead of ImageNet's (a bundled name such as photos, "
            "an exported .onnx or a checkpoint .pt); the network is that model's, so no --arch."
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            help="RTFPose's per-category fine-tune: train only the head of the --init rtfpose checkpoint, on the "
            "garments of this group (tops, outerwear, bottoms, dresses, vests, slings); then export --group-head."
        ),
    ] = None,
    graft: Annotated[
        Path | None,
        typer.Option(
            help="clothNet's grafting: start a two-stage detector's trunk (--arch fasterrcnn or maskrcnn) from "
            "this garment classifier's checkpoint (garmentkp train PHOTOS@MAPPING.json --arch classifier) "
            "instead of from ImageNet."
        ),
    ] = None,
) -> None:
    """Train the garment detector and landmark network; checkpoints every epoch, resumable.

    Example: garmentkp train data/synth_train photos@labels.json --val data/synth_val --out runs/synth --epochs 40
    """
    torch = require_torch()
    from garmentcli.errors import SchemaError
    from garmentcli.models.config import AnyConfig, CropConfig, FasterRcnnConfig, ModelConfig
    from garmentcli.train.data import load_samples
    from garmentcli.train.families import FAMILY_NAMES, family
    from garmentcli.train.loop import Trainer, TrainOptions, resume_trainer, stored_validation
    from garmentcli.train.topdown_data import TOPDOWN_AUGMENT

    config: AnyConfig | None = None
    if group is not None:
        from garmentcli.schema.garment_groups import group_categories

        if resume is not None:
            raise InputError(f"--group {group} with --resume: a resumed run keeps its checkpoint's group")
        try:
            group_categories(group)
        except SchemaError as exc:
            raise InputError(f"--group: {exc}") from None
    if resume is not None and init is not None:
        raise InputError(f"--init {init} with --resume: a resumed run continues with its checkpoint's weights")
    if graft is not None and (resume is not None or init is not None):
        raise InputError(f"--graft {graft}: a fresh run's starting weights; not with --resume or --init")
    if resume is None and init is not None:
        from garmentcli.train.init import init_model

        if arch:
            raise InputError(f"--init {init} sets the network; --arch {' '.join(arch)} cannot change it")
        config = init_model(init).card.config
        if not isinstance(config, CropConfig):
            if input_size is not None or isinstance(config, ModelConfig):
                config = type(config).from_dict({**config.to_dict(), "input_size": input_size or DEFAULT_INPUT_SIZE})
        elif input_size is not None:
            raise InputError(f"--input-size: {init} is a top-down model; its crop comes with its weights")
    elif resume is None:  # the defaults, changed by --arch (a stored config without "backbone" means the legacy one)
        name, changes = parse_arch(arch or [], FAMILY_NAMES)
        config_type = family(FAMILY_NAMES[name or "centernet"]).config_type
        if issubclass(config_type, CropConfig) and input_size is not None:
            raise InputError(f"--input-size: the {name} crop is set by --arch input_width=W --arch input_height=H")
        if graft is not None and not issubclass(config_type, FasterRcnnConfig):
            raise InputError(f"--graft {graft}: only a two-stage detector is grafted (--arch fasterrcnn or maskrcnn)")
        if config_type is ModelConfig:
            changes["input_size"] = input_size or DEFAULT_INPUT_SIZE
        elif input_size is not None:
            changes["input_size"] = input_size
        try:
            config = config_type.from_dict({**config_type().to_dict(), **changes})
        except SchemaError as exc:
            raise InputError(f"--arch: {exc}") from None
    elif not val:
        val = stored_validation(resume)
        if val:
            common.info(f"validation data as stored in {resume}: {', '.join(val)}")
    with common.writing("train", out):  # one training per run folder: a second would overwrite its checkpoints
        if threads is not None:
            torch.set_num_threads(threads)
        skipped = common.FailureLog()
        train_samples = load_samples(data, skipped.add)
        if teacher is not None:
            from garmentcli.train.pseudo import pseudo_label, teacher_predictor

            train_samples, adopted = pseudo_label(train_samples, teacher_predictor(teacher), min_score=teacher_score)
            weak = sum(1 for s in train_samples if s.weak and s.allowed)
            common.info(
                f"teacher {teacher}: {adopted} weakly-labelled photos now have box and landmark targets, {weak} not"
            )
        device_name = device.value if device is not None else None
        val_samples = load_samples(val, skipped.add) if val else []
        if resume is not None:
            trainer = resume_trainer(
                resume,
                out,
                train_samples,
                val_samples,
                epochs=epochs,
                device=device_name,
                workers=workers,
                val_data=val,
            )
            common.info(f"resuming {resume} after epoch {trainer.epoch} (step {trainer.step})")
        else:
            assert config is not None
            options = TrainOptions(
                epochs=epochs or 30,
                batch_size=batch_size,
                lr=lr,
                warmup_steps=warmup,
                workers=workers or 0,
                device=device_name or "cpu",
                seed=seed,
                pretrained=pretrained,
                freeze_stages=freeze_stages,
                backbone_lr=backbone_lr,
                init=init,
                group=group,
                graft=None if graft is None else str(graft),
            )
            if isinstance(config, CropConfig):
                options.augment = TOPDOWN_AUGMENT
            trainer = Trainer(out, config, options, train_samples, val_samples, val_data=list(val or []))
        shape = trainer.config
        size = f"{shape.input_width} x {shape.input_height}" if isinstance(shape, CropConfig) else shape.input_size
        crops = f" ({len(trainer.train_set)} garment crops)" if isinstance(shape, CropConfig) else ""
        common.info(
            f"training on {len(train_samples)} images{crops} ({len(val_samples)} for validation), "
            f"{trainer.parameters / 1e6:.2f} M parameters, input {size} px, "
            f"{trainer.steps_per_epoch} steps per epoch, {trainer.options.epochs} epochs, run folder {out}"
        )
        started = time.perf_counter()
        with common.make_progress() as progress:
            task = progress.add_task("epoch", total=trainer.steps_per_epoch)

            def hook(phase: str, done: int, total: int, figures: dict[str, float]) -> None:
                if phase == "train":
                    description = f"epoch {trainer.epoch + 1} loss {figures['loss']:.3f}"
                    progress.update(task, completed=done, description=description)
                    if progress.disable and done % LOG_EVERY_STEPS == 0:  # a log file gets a line now and then
                        common.info(f"{description} (step {done}/{total}, {time.perf_counter() - started:.0f} s)")
                    return
                progress.reset(task)
                metrics = " ".join(f"{k} {v:.4g}" for k, v in figures.items() if k.startswith(("loss", "val_", "lr")))
                common.info(f"epoch {done}/{total} ({figures['seconds']:.0f} s): {metrics}")

            try:
                trainer.fit(hook)
            except KeyboardInterrupt:
                if trainer.epoch == 0:  # checkpoints are written after each epoch: none yet
                    common.warn(f"interrupted in the first epoch: no checkpoint was written to {out}")
                else:
                    common.warn(
                        f"interrupted: {trainer.epoch} of {trainer.options.epochs} epochs done, kept in "
                        f"{out / 'last.pt'}; continue with --resume {out / 'last.pt'}"
                    )
                raise typer.Exit(common.EXIT_INTERRUPTED) from None
        common.info(f"done: {out / 'last.pt'}, best {out / 'best.pt'}, log {out / 'log.csv'}")
        if skipped:
            raise typer.Exit(common.EXIT_PARTIAL)
