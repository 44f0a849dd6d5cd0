"""Learning-rate schedule: linear warm-up, then cosine decay to a floor, stepped once per batch."""

from __future__ import annotations

import math
from typing import Any

from garmentcli.errors import require_torch


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, floor: float = 0.02) -> float:
    """The multiplier of the base learning rate at ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: Any, warmup_steps: int, total_steps: int, floor: float = 0.02) -> Any:
    """A ``LambdaLR`` applying :func:`warmup_cosine_factor` (its state dict is just the step count)."""
    torch = require_torch()
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, warmup_steps, total_steps, floor)
    )
