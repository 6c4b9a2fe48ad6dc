"""The Lightning model of the ``mlm`` task family (xlt.tasks.mlm): imported when a stage builds
one, so that planning an experiment does not import Lightning."""

from __future__ import annotations

import torch

from xlt.eval.metrics import MeanLoss, Metric
from xlt.tasks.models.base import TaskModel


class MaskedLanguageModel(TaskModel):
    """The transformers MLM model; its prediction head is the trainable "head"."""

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = {k: v for k, v in batch.items() if k != "example_seed"}
        return self.backbone(**batch).loss

    def loss_count(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return (batch["labels"] != -100).sum()  # the loss is the mean over masked tokens

    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        assert isinstance(metric, MeanLoss)
        loss = self.loss(batch)
        metric.update(loss.detach(), int((batch["labels"] != -100).sum()))
