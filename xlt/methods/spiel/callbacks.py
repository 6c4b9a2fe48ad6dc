"""The Lightning side of SpIEL: :class:`SpielCallback` calls the selectors' plain hooks
(xlt.methods.spiel.selection) at micro-batch starts and around the optimiser step; the modules know
nothing of Lightning."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch

from xlt.methods.spiel.selection import UpdateReport
from xlt.methods.spiel.sparse_linear import SpielModules
from xlt.training.resume import atomic_torch_save

log = logging.getLogger(__name__)


SELECTION_RECORD = "spiel_selection.pt"  # a finished phase's selection outcome, beside its done.pt


class SpielCallback(L.Callback):
    """Drives a SpIEL selector from Lightning's hooks (micro-batch starts, the optimiser step).

    Resuming (xlt.training.resume): the selector's state (grown_at, update reports, AG's open
    selection windows) is saved with the callback's state in resume checkpoints; Lightning restores
    it before ``on_train_start``, where the selector is created, so it is kept until then. The
    indices travel with the values as a trained buffer (and with them in BestState's snapshots).
    With ``record`` (a file in the phase's scratch dir), the phase's outcome (age histogram,
    update reports) is written at the end of training, before the phase is recorded as finished,
    so that a later attempt reusing the finished phase still reports it (:meth:`outcome`)."""

    def __init__(self, modules: SpielModules, make_selector: Any, record: Path | None = None):
        self.modules, self.make_selector, self.record = modules, make_selector, record
        self.selector: Any = None
        self._current_step = 0
        self._stepped = 0
        self._pending_state: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"selector": self.selector.state_dict()} if self.selector is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending_state = state_dict.get("selector")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.selector = self.make_selector(trainer.optimizers[0], int(trainer.max_steps))
        if self._pending_state is not None:
            self.selector.load_state_dict(self._pending_state)
            self._pending_state = None
        self._current_step = self._stepped = trainer.global_step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        step = trainer.global_step + 1
        first = step != self._current_step
        self._current_step = step
        self.selector.begin_micro_batch(step, first)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any) -> None:
        self.selector.before_optimizer_step(trainer.global_step + 1)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if trainer.global_step == self._stepped:
            return
        self._stepped = trainer.global_step
        report = self.selector.after_optimizer_step(trainer.global_step)
        if report is not None:
            pl_module.log("train/spiel_replaced", float(report.replaced))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for _, layer in self.modules:
            layer.observer = None
        if self.record is not None and trainer.is_global_zero:
            histogram, reports = self.outcome()
            atomic_torch_save({"histogram": histogram, "reports": [r.to_dict() for r in reports]}, self.record)

    def outcome(self) -> tuple[dict[int, int], list[UpdateReport]]:
        """(entries per step they were last grown at, the update reports) of this phase: from the
        selector, or from ``record`` when the phase finished in an earlier attempt."""
        if self.selector is not None:
            return self.selector.age_histogram(), list(getattr(self.selector, "reports", []))
        if self.record is not None and self.record.exists():
            saved = torch.load(self.record, weights_only=True)
            return ({int(step): int(count) for step, count in saved["histogram"].items()},
                    [UpdateReport.from_dict(report) for report in saved["reports"]])
        if self.record is not None:
            log.warning("no SpIEL selection record %s: the reused phase's updates are not reported", self.record)
        return {}, []
