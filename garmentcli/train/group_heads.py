"""RTFPose's per-category fine-tune, its last step: one deployable model from the shared model and its group heads,
each category's head picked on validation.

A group head is trained by ``garmentkp train --init SHARED.pt --group GROUP``: the shared model's trunk frozen,
its head fine-tuned on the crops of the group's categories. :func:`group_model` checks that every head's
checkpoint has the shared trunk bit for bit, scores every category's validation garments (ground-truth boxes,
keypoint AP) with the shared head and with its group's head, and keeps, per category, the group head only where
it scores strictly higher (a tie keeps the shared head). The result is one
:class:`~garmentcli.models.topdown.TopDownNet` whose ``config.heads`` holds that choice; heads no category
chose are left out. When no category chose a group head it is the shared model itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from garmentcli.errors import InputError, require_torch
from garmentcli.models.checkpoint import network_from_checkpoint
from garmentcli.models.config import TopDownConfig
from garmentcli.schema.garment_groups import SHARED_HEAD, group_landmark_rows, group_of
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet
from garmentcli.train.data import Sample

HEAD_PREFIX = "head."
"""The shared head's weights in a top-down network's state dict; everything else is the trunk."""


@dataclass(frozen=True)
class GroupHead:
    """A fine-tuned head: its garment group, its checkpoint and its weights (a full head, all landmark rows)."""

    group: str
    path: Path
    weights: dict[str, Any]


def load_group_heads(shared: Path, paths: Sequence[Path]) -> tuple[Any, dict[str, GroupHead]]:
    """The shared network of ``shared`` and the head of each per-group checkpoint of ``paths``, by group; one-line
    :class:`InputError` for a checkpoint that is no per-group fine-tune of this very shared model."""
    torch = require_torch()
    network, config, _ = network_from_checkpoint(shared)
    if not isinstance(config, TopDownConfig) or config.heads:
        raise InputError(f"{shared}: not a one-head rtfpose checkpoint (garmentkp train --arch rtfpose)")
    trunk = {k: v for k, v in network.state_dict().items() if not k.startswith(HEAD_PREFIX)}
    heads: dict[str, GroupHead] = {}
    for path in paths:
        fine_tuned, fine_config, state = network_from_checkpoint(path)
        group = (state.get("options") or {}).get("group")
        if group is None:
            raise InputError(f"{path}: not a per-group fine-tune (garmentkp train --init {shared} --group GROUP)")
        if group in heads:
            raise InputError(f"{path}: a second {group} head (the first is {heads[group].path})")
        if fine_config != config:
            raise InputError(f"{path}: its network's config differs from {shared}'s")
        weights = fine_tuned.state_dict()
        differs = next((k for k, v in trunk.items() if not torch.equal(v, weights[k])), None)
        if differs is not None:
            raise InputError(
                f"{path}: its trunk differs from {shared}'s (first at {differs}); "
                f"fine-tune the head with --init {shared} --group {group}"
            )
        head = {k.removeprefix(HEAD_PREFIX): v for k, v in weights.items() if k.startswith(HEAD_PREFIX)}
        heads[group] = GroupHead(group, path, head)
    return network, heads


def compose(shared: Any, heads: dict[str, GroupHead], choice: Sequence[str]) -> Any:
    """One network: ``shared``'s trunk and head, and the group heads ``choice`` (a head per category, in id order)
    names, each cut to its group's landmark rows; ``shared`` itself when ``choice`` names no group head."""
    from garmentcli.models.topdown import build_topdown

    if all(head == SHARED_HEAD for head in choice):
        return shared
    network = build_topdown(replace(shared.config, heads=tuple(choice)))
    state = dict(shared.state_dict())
    for group in network.group_heads:
        rows = require_torch().from_numpy(group_landmark_rows(group))
        for key, value in heads[group].weights.items():
            state[f"group_heads.{group}.{key}"] = value[rows] if key.startswith("maps.") else value
    network.load_state_dict(state)
    return network.eval()


def per_category_ap(network: Any, samples: Sequence[Sample], device: Any) -> dict[int, float]:
    """Keypoint AP of each category with validation garments, on their ground-truth boxes."""
    from garmentcli.metrics.evaluate import evaluate
    from garmentcli.train.validate import predict_on_truth

    truth = AnnotationSet([s.record for s in samples])
    predicted = predict_on_truth(network, network.config, samples, device)
    table = evaluate(truth, predicted, metrics=("ap",), per_category=True)["keypoints"]["per_category"]
    return {DF2.category(name).id: float(figures["AP"]) for name, figures in table.items()}


def choose_heads(shared_ap: dict[int, float], group_ap: dict[int, float], groups: Sequence[str]) -> tuple[str, ...]:
    """Per category (id order): its group's head where the group is one of ``groups`` and that head's AP is
    strictly higher than the shared head's, else the shared head (also without validation garments)."""
    return tuple(
        group_of(c)
        if group_of(c) in groups and group_ap.get(c, -math.inf) > shared_ap.get(c, math.inf)
        else SHARED_HEAD
        for c in DF2.ids
    )


def group_model(
    shared: Path, paths: Sequence[Path], samples: Sequence[Sample], device: Any = "cpu"
) -> tuple[Any, dict[str, Any]]:
    """The deployable per-group network of ``shared`` and the group heads of ``paths``, picked on ``samples``,
    and what it rests on: ``checkpoints`` (group -> the head's checkpoint) and ``per_category`` (each category's
    garment group, the head chosen, both keypoint APs and the number of validation garments)."""
    if not samples:
        raise InputError("--group-head: each category's head is picked on validation data; give it with --val DATA")
    network, heads = load_group_heads(shared, paths)
    every = tuple(group_of(c) if group_of(c) in heads else SHARED_HEAD for c in DF2.ids)
    shared_ap = per_category_ap(network.to(device), samples, device)
    group_ap = per_category_ap(compose(network, heads, every).to(device), samples, device)
    choice = choose_heads(shared_ap, group_ap, list(heads))
    counts = {c: sum(g.category_id == c for s in samples for g in s.record.garments) for c in DF2.ids}
    per_category = {
        category.name: {
            "garment_group": group_of(category.id),
            "head": head,
            "shared_kp_AP": shared_ap.get(category.id),
            "group_kp_AP": group_ap.get(category.id) if group_of(category.id) in heads else None,
            "validation_garments": counts[category.id],
        }
        for category, head in zip(DF2.categories, choice, strict=True)
    }
    report = {"checkpoints": {group: str(head.path) for group, head in heads.items()}, "per_category": per_category}
    return compose(network.cpu(), heads, choice), report
