"""Training schedules: learning rate, batch size and how long a phase trains."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xlt.config import check_number, parse, to_plain
from xlt.errors import ConfigError


@dataclass
class Schedule:
    """One training phase. The step budget follows the thesis's rule (§4.4.2): the lesser of
    ``max_epochs`` epochs and ``max_steps`` steps, but at least ``min_steps`` steps.

    Every value is checked when the config is parsed (:meth:`validate`), so a bad one fails when
    the experiment is built, naming its full key (``task.train.lr``, ``lang_module.train.batch_size``)."""

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

    def validate(self, where: str) -> None:
        check_number(self.lr, f"{where}.lr", above=0)
        check_number(self.batch_size, f"{where}.batch_size", minimum=1, integer=True)
        check_number(self.max_epochs, f"{where}.max_epochs", above=0, optional=True)
        check_number(self.max_steps, f"{where}.max_steps", minimum=1, integer=True, optional=True)
        check_number(self.min_steps, f"{where}.min_steps", minimum=0, integer=True, optional=True)
        check_number(self.eval_every, f"{where}.eval_every", minimum=1, integer=True, optional=True)
        check_number(self.warmup_ratio, f"{where}.warmup_ratio", minimum=0, maximum=1)
        check_number(self.weight_decay, f"{where}.weight_decay", minimum=0)
        check_number(self.accumulate, f"{where}.accumulate", minimum=1, integer=True)
        check_number(self.max_grad_norm, f"{where}.max_grad_norm", above=0, optional=True)
        check_number(self.adam_epsilon, f"{where}.adam_epsilon", above=0)
        if not isinstance(self.select_best, bool):
            raise ConfigError(f"{where}.select_best={self.select_best!r}: expected true or false")

    def merged(self, overrides: Mapping[str, Any] | None, where: str) -> Schedule:
        """A copy with ``overrides`` applied (unknown keys and bad values raise ConfigError naming ``where``)."""
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


SCHEDULE_KEYS = tuple(f.name for f in dataclasses.fields(Schedule))


class ScheduleOverrides(dict):
    """Changes to a :class:`Schedule` for one phase (LT-SFT's ``phase1`` / ``phase2``, §4.3.1): a subset of
    its keys, each checked as the schedule checks it, when the config is parsed. It stays a plain
    mapping of the keys given (so ``{}`` keeps the task's schedule, and artifact keys hash only what is set)."""

    @classmethod
    def from_config(cls, node: Any, where: str) -> ScheduleOverrides:
        values = to_plain(node)
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: expected a mapping of schedule keys ({', '.join(SCHEDULE_KEYS)})")
        unknown = [key for key in values if key not in SCHEDULE_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(SCHEDULE_KEYS))})")
        Schedule(**values).validate(where)  # each given value checked on its own; the rest are defaults
        return cls(values)
