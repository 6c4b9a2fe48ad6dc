"""Lightning callbacks of the training loop itself (not of a method): the best validation state, and the
per-batch language-module switch of multi-source training (xlt.training.multisource, thesis §4.4.4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import torch

from xlt.data.mixture import LANGUAGE_KEY
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


class LanguageSwitch(L.Callback):
    """Activates the current batch's language module (see the module docstring for the timing)."""

    def __init__(self, modules: Mapping[str, Any], with_head: bool = False):
        self.modules = dict(modules)
        self.with_head = with_head
        self.active: str | None = None
        self.handle: Any = None

    def activate(self, pl_module: L.LightningModule, language: str | None) -> None:
        if language == self.active and (self.handle is not None or language is None):
            return
        self.deactivate()
        module = self.modules.get(language) if language is not None else None
        if module is not None:
            self.handle = module.attach(pl_module, with_head=self.with_head)
        self.active = language

    def deactivate(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
        self.active = None

    # training: attach at batch start, remove right after backward (before any optimizer-step hook)
    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        language = batch.pop(LANGUAGE_KEY, None) if isinstance(batch, dict) else None
        self.activate(pl_module, language)

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any) -> None:
        self.deactivate()  # a step whose backward was skipped

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.deactivate()

    # validation: each loader is one language
    def on_validation_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                                  batch_idx: int, dataloader_idx: int = 0) -> None:
        names = getattr(pl_module, "val_names", [])
        self.activate(pl_module, names[dataloader_idx] if dataloader_idx < len(names) else None)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.deactivate()


class RankSeed(L.Callback):
    """Gives every rank but 0 its own random stream once training starts (after Lightning's DDP set-up has
    re-seeded every rank alike): dropout then draws independent masks per rank (World.seed_rank). A
    resumed phase's saved per-rank states replace it before the first step (xlt.training.resume)."""

    def __init__(self, seed_rank: Callable[[int], None], seed: int):
        self.seed_rank, self.seed = seed_rank, seed

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seed_rank(self.seed)
