"""The Lightning model of the ``classification`` task family (xlt.tasks.classification): imported when a stage builds
one, so that planning an experiment does not import Lightning."""

from __future__ import annotations

import torch
from torch import nn

from xlt.eval.metrics import Metric
from xlt.tasks.models.base import TaskModel


class SequenceClassifier(TaskModel):
    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "example_seed") and not k.startswith("_")}
        hidden = self.backbone(**inputs).last_hidden_state
        return self.head(hidden)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(self.logits(batch), batch["labels"])

    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        predictions = self.logits(batch).argmax(-1)
        metric.update(predictions.cpu(), batch["labels"].cpu())
