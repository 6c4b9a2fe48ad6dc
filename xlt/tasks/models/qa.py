"""The Lightning model of the ``qa`` task family (xlt.tasks.qa): imported when a stage builds
one, so that planning an experiment does not import Lightning."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from xlt.eval.metrics import Metric
from xlt.tasks.decoding import best_spans
from xlt.tasks.models.base import TaskModel
from xlt.tasks.tagging import model_inputs


class QuestionAnswering(TaskModel):
    def __init__(self, backbone: nn.Module, head: nn.Module, metric_factory, max_answer_length: int):
        super().__init__(backbone, head, metric_factory)
        self.max_answer_length = max_answer_length

    def logits(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.backbone(**model_inputs(batch)).last_hidden_state
        start, end = self.head(hidden).unbind(-1)
        return start, end

    def loss(self, batch: dict[str, Any]) -> torch.Tensor:
        start, end = self.logits(batch)
        return (nn.functional.cross_entropy(start, batch["start_positions"])
                + nn.functional.cross_entropy(end, batch["end_positions"])) / 2

    def update_metric(self, metric: Metric, batch: dict[str, Any]) -> None:
        start, end = self.logits(batch)
        scores, first, last = best_spans(start, end, batch["offsets"][..., 0] >= 0, self.max_answer_length)
        offsets = batch["offsets"].cpu()
        spans = []
        for row, (score, i, j) in enumerate(zip(scores.tolist(), first.tolist(), last.tolist())):
            if score == float("-inf"):
                spans.append((score, ""))
                continue
            begin, finish = int(offsets[row, i, 0]), int(offsets[row, j, 1])
            spans.append((score, batch["context"][row][begin:finish]))
        metric.update(batch["example_key"], spans, batch["gold_answers"], batch.get("answer_scoring"))
