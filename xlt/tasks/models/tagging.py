"""The Lightning model of the ``tagging`` task family (xlt.tasks.tagging): imported when a stage builds
one, so that planning an experiment does not import Lightning."""

from __future__ import annotations

import torch
from torch import nn

from xlt.data.collators import IGNORE_INDEX
from xlt.eval.metrics import Metric
from xlt.tasks.models.base import TaskModel
from xlt.tasks.tagging import model_inputs


class TokenClassifier(TaskModel):
    def __init__(self, backbone: nn.Module, head: nn.Module, metric_factory, labels: list[str], span_metric: bool):
        super().__init__(backbone, head, metric_factory)
        self.labels = labels
        self.span_metric = span_metric

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.backbone(**model_inputs(batch)).last_hidden_state)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.logits(batch)
        return nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE_INDEX)

    def loss_count(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return (batch["labels"] != IGNORE_INDEX).sum()  # the loss is the mean over labelled subwords

    def word_predictions(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Predicted label id per word (-1 where a word has no subword)."""
        predictions = self.logits(batch).argmax(-1)
        starts = batch["word_starts"]
        at_starts = predictions.gather(1, starts.clamp(min=0))
        return at_starts.masked_fill(starts < 0, -1)

    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        predicted = self.word_predictions(batch).cpu()
        gold = batch["word_labels"].cpu()
        if not self.span_metric:
            metric.update(predicted, gold)
            return
        predicted_tags, gold_tags = [], []
        for p_row, g_row in zip(predicted.tolist(), gold.tolist()):
            words = [i for i, g in enumerate(g_row) if g != IGNORE_INDEX]
            gold_tags.append([self.labels[g_row[i]] for i in words])
            predicted_tags.append([self.labels[p_row[i]] if p_row[i] >= 0 else "O" for i in words])
        metric.update(predicted_tags, gold_tags)
