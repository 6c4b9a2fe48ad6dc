"""The one home of every optimiser and learning-rate schedule: the Fitter builds them from the phase's
:class:`~xlt.schedule.Schedule` (``task.train`` / ``lang_module.train`` / a phase override), so a
learning rate set anywhere in the config reaches the optimiser in exactly one way.

Default (thesis §4.4.2, §7.4.3): AdamW over the model's trainable parameters with the schedule's lr,
weight decay and epsilon; a linear warm-up over ``warmup_ratio`` of the steps, then linear decay to 0.
A method with an optimiser of its own (SpIEL's SpielAdamW / SparseSM3) passes an
:data:`OptimizerFactory` to ``Fitter.fit``; the schedule of its learning rate is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from xlt.schedule import Schedule

OptimizerFactory = Callable[[Schedule], torch.optim.Optimizer]
"""Builds a method's own optimiser for one phase, from the phase's schedule (its ``lr``)."""


def linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int,
                    warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then linear decay to 0 at ``total_steps`` (thesis §4.4.2, §7.4.3)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def adamw(model: nn.Module, schedule: Schedule) -> torch.optim.Optimizer:
    """AdamW over ``model``'s trainable parameters, as the schedule says."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=schedule.lr, weight_decay=schedule.weight_decay, eps=schedule.adam_epsilon)


def configure_optimizers(model: nn.Module, schedule: Schedule, total_steps: int,
                         factory: OptimizerFactory | None = None) -> dict[str, Any]:
    """What a LightningModule's ``configure_optimizers`` returns for one phase of ``total_steps`` steps."""
    optimizer = factory(schedule) if factory is not None else adamw(model, schedule)
    scheduler = linear_schedule(optimizer, total_steps, int(schedule.warmup_ratio * total_steps))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
