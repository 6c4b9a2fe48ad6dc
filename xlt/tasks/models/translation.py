"""The Lightning model of the ``translation`` task family (xlt.tasks.translation): imported when a stage builds
one, so that planning an experiment does not import Lightning."""

from __future__ import annotations

from typing import Any

import torch

from xlt.data.collators import IGNORE_INDEX
from xlt.eval.metrics import Metric
from xlt.eval.mt_metrics import TranslationMetric
from xlt.models.nmt import code_id
from xlt.tasks.models.base import TaskModel
from xlt.tasks.translation import REFERENCES_KEY
from xlt.translation.backends import GenerationSettings


class TranslationModel(TaskModel):
    """An encoder-decoder NMT model; validation translates greedily and scores chrF/BLEU."""

    def __init__(self, backbone: torch.nn.Module, metric_factory: Any, tokenizer: Any, target_code: str,
                 generation: GenerationSettings):
        super().__init__(backbone, None, metric_factory)
        self.tokenizer = tokenizer
        self.target_id = code_id(tokenizer, target_code, "task.target_code")
        self.generation = generation

    def on_train_start(self) -> None:
        self.backbone.train()  # from_pretrained returns eval mode; dropout must be on while training

    def loss(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             labels=batch["labels"]).loss

    def loss_count(self, batch: dict[str, Any]) -> torch.Tensor:
        return (batch["labels"] != IGNORE_INDEX).sum()  # the loss is the mean over target tokens

    def translate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[str]:
        """Greedy (or beam) translations of a batch, the target code forced first, codes stripped."""
        from transformers import GenerationConfig

        base, settings = self.backbone.generation_config, self.generation
        config = GenerationConfig(
            decoder_start_token_id=base.decoder_start_token_id, bos_token_id=base.bos_token_id,
            eos_token_id=base.eos_token_id, pad_token_id=base.pad_token_id, forced_bos_token_id=self.target_id,
            num_beams=settings.num_beams, do_sample=False, max_new_tokens=settings.decoding_steps,
            length_penalty=settings.length_penalty, repetition_penalty=settings.repetition_penalty,
            no_repeat_ngram_size=settings.no_repeat_ngram_size)
        generated = self.backbone.generate(input_ids=input_ids, attention_mask=attention_mask,
                                           generation_config=config)
        return self.tokenizer.batch_decode(generated, skip_special_tokens=True)

    def update_metric(self, metric: Metric, batch: dict[str, Any]) -> None:
        assert isinstance(metric, TranslationMetric)
        metric.update(self.translate(batch["input_ids"], batch["attention_mask"]), batch[REFERENCES_KEY])
