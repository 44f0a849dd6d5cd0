"""Per-stage timers of the inference pipeline (decode, preprocess, inference, postprocess, write)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

STAGES = ("decode", "preprocess", "inference", "postprocess", "write")


@dataclass
class StageTimer:
    """Accumulated seconds per stage and the number of images they were spent on.

    Decoding and preprocessing run in worker threads, so their totals are summed thread time
    (they overlap inference); images/s end to end is the caller's wall clock over :attr:`images`.
    """

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    images: int = 0
    clock: Callable[[], float] = time.perf_counter

    def add(self, stage: str, seconds: float) -> None:
        """Count ``seconds`` for ``stage``: one of :data:`STAGES`, or another (``landmarks``) from its first use."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextlib.contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            self.add(stage, self.clock() - start)

    def per_image_ms(self) -> dict[str, float]:
        """Milliseconds per image spent in each stage (0 before any image)."""
        return {stage: 1000 * total / max(self.images, 1) for stage, total in self.seconds.items()}
