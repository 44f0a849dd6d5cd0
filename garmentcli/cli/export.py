"""``garmentkp export``: a training checkpoint (or a fresh network) to an ONNX model file + card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from garmentcli.cli import common
from garmentcli.errors import InputError


def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The .onnx file to write (its card goes beside it).")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="Training checkpoint (garmentkp train's best.pt / last.pt).")
    ] = None,
    random: Annotated[
        bool, typer.Option("--random", help="Export an untrained network instead (pipeline tests, benchmarks).")
    ] = False,
    input_size: Annotated[int, typer.Option(help="With --random: the network input side (multiple of 32).")] = 256,
    width: Annotated[int, typer.Option(help="With --random: channels at stride 4.")] = 40,
    name: Annotated[str | None, typer.Option(help="Model name in the card (default: the output file's stem).")] = None,
    card: Annotated[
        Path | None, typer.Option(help="JSON with 'training' and/or 'metrics' entries to put in the card.")
    ] = None,
    group_head: Annotated[
        list[Path] | None,
        typer.Option(
            help="With an rtfpose --checkpoint: a per-group fine-tune of it (garmentkp train --init CHECKPOINT "
            "--group GROUP), repeatable; each category uses its group's head where that scores higher on --val."
        ),
    ] = None,
    val: Annotated[
        list[str] | None,
        typer.Option("--val", help="With --group-head: the validation data the heads are picked on; repeatable."),
    ] = None,
    device: Annotated[
        common.DeviceName, typer.Option(help="With --group-head: where the validation runs (cpu or cuda).")
    ] = common.CPU,
) -> None:
    """Export a model to ONNX (dynamic batch) and check it against torch.

    Example: garmentkp export --checkpoint runs/a/best.pt -o models/garments.onnx

    Per-group heads: garmentkp export --checkpoint runs/rtfpose/best.pt --group-head runs/tops/best.pt
    --group-head runs/slings/best.pt --val data/val -o models/rtfpose.onnx
    """
    from garmentcli.models.card import ModelCard
    from garmentcli.models.checkpoint import network_from_checkpoint
    from garmentcli.models.config import ModelConfig
    from garmentcli.models.export import EXPORT_TOLERANCE, export_onnx
    from garmentcli.models.network import build_network
    from garmentcli.models.registry import card_path, is_model_card

    if (checkpoint is None) == (not random):
        raise InputError("give either --checkpoint FILE or --random")
    if output.suffix != ".onnx":
        raise InputError(f"{output}: the output must end in .onnx")
    if (group_head or val) and checkpoint is None:
        raise InputError("--group-head and --val go with --checkpoint SHARED.pt, the shared rtfpose model")
    if val and not group_head:
        raise InputError("--val: picks the per-group heads; give them with --group-head CHECKPOINT")
    if checkpoint is not None:
        network, config, state = network_from_checkpoint(checkpoint)
        training = {"checkpoint": checkpoint.name, "epochs": state.get("epoch"), "options": state.get("options")}
        metrics = {"best_validation_score": state.get("best_score")}
        if group_head:
            network, training["group_heads"], metrics["head_choice"] = _group_heads(
                checkpoint, group_head, val or [], device.value
            )
            config = network.config
    else:
        config = ModelConfig(input_size=input_size, width=width)
        network, training, metrics = build_network(config).eval(), {"untrained": True}, {}
    extra = common.card_fields(card)
    model_card = ModelCard(
        name or output.stem,
        config,
        training={**training, **extra.get("training", {})},
        metrics={**metrics, **extra.get("metrics", {})},
    )
    card_file = card_path(output)
    if card_file.exists() and not is_model_card(card_file):
        raise InputError(
            f"{card_file}: exists and is not a model card; exporting {output.name} would replace it with one, "
            "choose another name"
        )
    with common.writing("export", output, card_file, model_cards=True):
        result = export_onnx(network, model_card, output)
    common.info(
        f"wrote {result.path} and {result.path.with_suffix('.json').name}: {result.card.parameters:,} parameters, "
        f"input {result.card.input_text}, max |onnxruntime - torch| = {result.max_abs_diff:.2e} "
        f"(bound {EXPORT_TOLERANCE:g} x the output scale)"
    )


def _group_heads(
    checkpoint: Path, heads: list[Path], val: list[str], device: str
) -> tuple[object, dict[str, object], dict[str, object]]:
    """The per-group network, the card's record of its heads (group -> checkpoint, the validation data) and the
    per-category validation figures behind the choice."""
    from garmentcli.schema.garment_groups import SHARED_HEAD
    from garmentcli.train.data import load_samples
    from garmentcli.train.group_heads import group_model
    from garmentcli.train.loop import resolve_device

    skipped = common.FailureLog()
    samples = load_samples(val, skipped.add) if val else []
    network, report = group_model(checkpoint, heads, samples, resolve_device(device))
    table = report["per_category"]
    chosen = ", ".join(f"{name} {entry['head']}" for name, entry in table.items() if entry["head"] != SHARED_HEAD)
    common.info(f"per-category heads picked on {len(samples)} validation images: {chosen or 'the shared head for all'}")
    return network, {"checkpoints": report["checkpoints"], "validation": list(val)}, table
