"""The common LightningModule of every task family: a pre-trained ``backbone`` plus an optional task ``head``.

PEFT methods see only two things of it: ``body`` (the headless base model whose parameters SFTs and
adapters modify) and ``head_parameters()`` (trained densely and saved as "abs" tensors). Validation can
run over several named loaders (e.g. one per language): each logs ``val/<name>/<metric>`` and their mean
is logged as ``val/<metric>``. Imported when a stage builds a model (xlt.tasks.base: the family interface).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from xlt.data.sampling import PADDING_KEY
from xlt.eval.metrics import Metric, average
from xlt.models.loading import body_of


class TaskModel(L.LightningModule):
    """Backbone + head and per-loader validation metrics; the optimiser comes from the Fitter."""

    def __init__(self, backbone: nn.Module, head: nn.Module | None, metric_factory: Callable[[], Metric]):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.metric_factory = metric_factory
        # set by the Fitter for each phase (xlt.training.optim builds the optimiser and schedule)
        self.optimizers_config: Callable[[], Any] | None = None
        self.val_names: list[str] = ["validation"]
        self._val_metrics: list[Metric] = []
        self.strict_loading = False  # checkpoints hold only trainable state

    # ------------------------------------------------------------------ PEFT-facing API
    @property
    def body(self) -> nn.Module:
        return body_of(self.backbone)

    def head_parameters(self) -> dict[str, nn.Parameter]:
        """Trainable parameters outside the body, by their name in this module."""
        body_ids = {id(p) for p in self.body.parameters()}
        return {name: p for name, p in self.named_parameters() if id(p) not in body_ids and p.requires_grad}

    # ------------------------------------------------------------------ task-specific
    @abstractmethod
    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Training loss of a batch."""

    @abstractmethod
    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        """Run the model on a validation/test batch and update ``metric``."""

    def loss_count(self, batch: dict[str, torch.Tensor]) -> int | torch.Tensor:
        """How many units :meth:`loss` averages over: examples here; a token-level loss counts its tokens.
        With several ranks, each rank's loss is weighted by its share of the global batch's units."""
        return self._batch_size(batch)

    # ------------------------------------------------------------------ Lightning
    def on_fit_start(self) -> None:
        # transformers 5 loads models in eval mode and Lightning 2.6 keeps submodule modes:
        # without this, dropout would be off during training.
        self.train()

    def configure_optimizers(self) -> Any:
        if self.optimizers_config is None:
            raise RuntimeError("a TaskModel trains through xlt.training.fit.Fitter, which builds its optimiser")
        return self.optimizers_config()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        padding = bool(batch.pop(PADDING_KEY, False)) if isinstance(batch, dict) else False
        if self.trainer.world_size > 1:
            return self._rank_loss(batch, padding)
        loss = self.loss(batch)
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=self._batch_size(batch))
        return loss

    def _rank_loss(self, batch: dict[str, torch.Tensor], padding: bool) -> torch.Tensor:
        """This rank's part of the global batch's loss. One process averages the loss over the batch's units
        (examples or tokens: :meth:`loss_count`); DDP averages the ranks' gradients. Scaling each rank's
        mean by (its units x ranks / all units) makes that average the global mean exactly, whatever the
        ranks' shares (uneven last batches, a token count per rank). A rank with no units (a padding stand-in,
        or a batch without a labelled token) runs the same forward and backward weighted zero: every hook
        that joins a collective (e.g. SpIEL's all-reduced candidate gradients) runs on every rank."""
        count = 0 if padding else int(self.loss_count(batch))
        total = float(self.trainer.strategy.reduce(torch.tensor(float(count), device=self.device), reduce_op="sum"))
        loss = self.loss(batch)
        if count == 0 or total == 0:
            return loss.nan_to_num(0.0) * 0.0  # a mean over no units may be NaN
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=self._batch_size(batch))
        return loss * (count * self.trainer.world_size / total)

    def on_validation_epoch_start(self) -> None:
        self._val_metrics = [self.metric_factory() for _ in self.val_names]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self.update_metric(self._val_metrics[dataloader_idx], batch)

    def on_validation_epoch_end(self) -> None:
        results = self.validation_results()
        for key, value in results.items():
            self.log(key, value, prog_bar=key.count("/") == 1, add_dataloader_idx=False)

    def validation_results(self) -> dict[str, float]:
        per_loader = [metric.compute() for metric in self._val_metrics]
        results: dict[str, float] = {}
        for name, values in zip(self.val_names, per_loader):
            results.update({f"val/{name}/{key}": value for key, value in values.items()})
        results.update({f"val/{key}": value for key, value in average(per_loader).items()})
        return results

    @staticmethod
    def _batch_size(batch: dict[str, torch.Tensor]) -> int:
        return int(next(iter(batch.values())).shape[0])
