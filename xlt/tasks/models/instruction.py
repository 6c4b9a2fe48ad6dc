"""The Lightning model of the ``instruction`` task family (xlt.tasks.instruction): imported when a stage builds
one, so that planning an experiment does not import Lightning."""

from __future__ import annotations

import torch

from xlt.data.collators import IGNORE_INDEX
from xlt.eval.metrics import MeanLoss, Metric
from xlt.eval.multiple_choice import MultipleChoiceAccuracy
from xlt.tasks.instruction import continuation_logprobs, next_token_logprobs
from xlt.tasks.models.base import TaskModel


class CausalLMModel(TaskModel):
    """A causal LM; the loss is the mean over labelled (assistant) tokens of the batch."""

    def on_train_start(self) -> None:
        # from_pretrained returns modules in eval mode and Lightning keeps modes as it finds them:
        # train mode, so that dropout (e.g. LoRA's 0.1) is active during training
        self.backbone.train()

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             labels=batch["labels"]).loss

    def loss_count(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return (batch["labels"][:, 1:] != IGNORE_INDEX).sum()  # labelled tokens after the shift

    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        if isinstance(metric, MultipleChoiceAccuracy) and "candidates" in batch:  # one sequence per question
            scores = next_token_logprobs(self.backbone, batch)
            metric.update_questions(batch["question"].cpu(), batch["answer"].cpu(), batch["num_choices"].cpu(),
                                    scores.cpu())
            return
        if isinstance(metric, MultipleChoiceAccuracy):  # one sequence per (question, choice)
            scores = continuation_logprobs(self.backbone, batch)
            metric.update(batch["question"].cpu(), batch["choice"].cpu(), batch["answer"].cpu(),
                          batch["num_choices"].cpu(), scores.cpu())
            return
        assert isinstance(metric, MeanLoss)
        metric.update(self.loss(batch).detach(), int((batch["labels"][:, 1:] != IGNORE_INDEX).sum()))
