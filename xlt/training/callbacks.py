"""Lightning callbacks of the training loop itself (not of a method)."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from xlt.training.resume import load_trained_state, trainable_state


class BestState(L.Callback):
    """Keeps (in CPU memory) the trained state (parameters and trained buffers, xlt.training.resume)
    with the best validation ``monitor`` value."""

    def __init__(self, monitor: str, mode: str = "max"):
        self.monitor, self.mode = monitor, mode
        self.best_value: float | None = None
        self.best_metrics: dict[str, float] = {}
        self.best_step: int | None = None
        self.state: dict[str, torch.Tensor] | None = None
        self.last_validated_step: int | None = None

    def _better(self, value: float) -> bool:
        if self.best_value is None:
            return True
        return value > self.best_value if self.mode == "max" else value < self.best_value

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        self.last_validated_step = trainer.global_step
        value = float(trainer.callback_metrics[self.monitor])
        if self._better(value):
            self.best_value, self.best_step = value, trainer.global_step
            self.best_metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
            self.state = trainable_state(pl_module)  # with trained buffers (e.g. SpIEL's indices)

    def state_dict(self) -> dict[str, Any]:
        """Saved in resume checkpoints (xlt.training.resume), so a resumed phase selects the same state."""
        return {"best_value": self.best_value, "best_metrics": self.best_metrics, "best_step": self.best_step,
                "state": self.state, "last_validated_step": self.last_validated_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for key, value in state_dict.items():
            setattr(self, key, value)

    def restore(self, pl_module: L.LightningModule) -> None:
        if self.state is None:
            return
        load_trained_state(pl_module, self.state, "the best validation state")
