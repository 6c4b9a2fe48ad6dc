"""Training schedules: learning rate, batch size and how long a phase trains."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from xlt.config import parse


@dataclass
class Schedule:
    """One training phase. The step budget follows the thesis's rule (§4.4.2): the lesser of
    ``max_epochs`` epochs and ``max_steps`` steps, but at least ``min_steps`` steps."""

    lr: float = 5e-5
    batch_size: int = 8
    max_epochs: float | None = None
    max_steps: int | None = None
    min_steps: int | None = None
    eval_every: int | None = None  # optimiser steps between validations (None: once per epoch)
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    accumulate: int = 1  # gradient accumulation (effective batch = batch_size * accumulate)
    max_grad_norm: float | None = 1.0
    adam_epsilon: float = 1e-8
    select_best: bool = True  # restore the best validation state at the end of the phase

    def merged(self, overrides: dict[str, Any] | None, where: str) -> Schedule:
        """A copy with ``overrides`` applied (unknown keys raise ConfigError naming ``where``)."""
        if not overrides:
            return self
        return parse(Schedule, {**dataclasses.asdict(self), **overrides}, where)

    def steps_per_epoch(self, batches_per_epoch: int) -> int:
        return max(1, math.ceil(batches_per_epoch / self.accumulate))

    def total_steps(self, batches_per_epoch: int, cap: int | None = None) -> int:
        per_epoch = self.steps_per_epoch(batches_per_epoch)
        steps = math.inf
        if self.max_epochs is not None:
            steps = math.ceil(self.max_epochs * per_epoch)
        if self.max_steps is not None:
            steps = min(steps, self.max_steps)
        if steps == math.inf:
            steps = per_epoch  # neither limit given: one epoch
        if self.min_steps is not None:
            steps = max(steps, self.min_steps)
        if cap is not None:
            steps = min(steps, cap)
        return max(1, int(steps))

    def validation_interval(self, total_steps: int, batches_per_epoch: int, cap: int | None = None) -> int:
        """Optimiser steps between validations."""
        interval = self.eval_every or self.steps_per_epoch(batches_per_epoch)
        if cap is not None:
            interval = min(interval, max(1, cap))
        return max(1, min(interval, total_steps))
