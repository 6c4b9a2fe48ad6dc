"""Sequence-to-sequence translation: NMT adaptation of NLLB to unseen languages (thesis §6.3.3, §6.4.2).

The model is an NLLB / M2M100 encoder-decoder (``AutoModelForSeq2SeqLM``); its body is the whole
``model.model`` (shared embeddings, encoder, decoder), so full fine-tuning and LT-SFT both apply,
and there is no separate head (the output projection is tied to the embeddings).

Data: parallel pairs (``source_field``, ``target_field``; e.g. Spanish -> Bribri for AmericasNLI,
Indonesian -> Madurese for NusaX, or the reverse for translate-test) with FLORES codes
``source_code`` / ``target_code``. Inputs are ``[source code] tokens </s>``, labels
``[target code] tokens </s>`` as NLLB's tokenizer makes them (the target code is the first decoder
token, forced at generation time); the decoder input is the labels shifted right after ``</s>``.
Loss: token cross-entropy over the labels (the code included, as in NLLB fine-tuning). Sequences
are cut at ``max_length`` tokens (256, §6.4.2). ``new_language_code`` adds an unseen language's
code token and initialises its embedding row (``new_code_init``: ``copy:<code>`` or ``mean``,
xlt.models.nmt) on every model the family builds, when the tokenizer given lacks it.

Validation: greedy (``generation``) translations of the held-out pairs, scored with corpus chrF and
BLEU (sacrebleu, 0-100); ``metric`` (chrf) selects the checkpoint. Schedule (§6.4.2): 5 epochs,
batch 8, lr 2e-5 decayed linearly to 0, validation once per epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from xlt.config import parse
from xlt.data.collators import IGNORE_INDEX
from xlt.errors import ConfigError, DataError
from xlt.eval.metrics import Metric
from xlt.eval.mt_metrics import TRANSLATION_METRICS, TranslationMetric
from xlt.models.loading import DTYPES, ModelConfig
from xlt.models.nmt import add_code_token, check_code, code_id, init_code_embedding
from xlt.schedule import Schedule
from xlt.tasks import register_family
from xlt.tasks.base import TaskFamily
from xlt.translation.backends import GenerationSettings

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel

REFERENCES_KEY = "references"  # the batch's reference translations (strings, for the metric)


def _default_schedule() -> Schedule:
    return Schedule(lr=2e-5, batch_size=8, max_epochs=5)


def _default_generation() -> GenerationSettings:
    return GenerationSettings(num_beams=1, max_length=256, batch_size=16)


@dataclass
class TranslationTaskConfig:
    source_code: str  # FLORES code of the inputs, e.g. spa_Latn
    target_code: str  # FLORES code of the outputs, e.g. bzd_Latn
    name: str = "translation"
    family: str = "translation"
    source_field: str = "source"
    target_field: str = "target"
    max_length: int = 256  # source and target tokens, codes included (§6.4.2)
    metric: str = "chrf"  # selection metric: chrf or bleu
    new_language_code: str | None = None  # an unseen language's code to add (§6.3.3), e.g. bzd_Latn
    new_code_init: str = "mean"  # copy:<code> (a related language) or mean (of the code rows)
    generation: GenerationSettings = field(default_factory=_default_generation)  # validation decoding
    train: Schedule = field(default_factory=_default_schedule)


class TranslationCollator:
    """Right padding: inputs with the pad id (attention 0), labels with -100; references as a list."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        source_length = max(len(e["input_ids"]) for e in examples)
        target_length = max(len(e["labels"]) for e in examples)
        batch: dict[str, Any] = {
            "input_ids": torch.tensor([e["input_ids"] + [self.pad_token_id] * (source_length - len(e["input_ids"]))
                                       for e in examples]),
            "attention_mask": torch.tensor([[1] * len(e["input_ids"]) + [0] * (source_length - len(e["input_ids"]))
                                            for e in examples]),
            "labels": torch.tensor([e["labels"] + [IGNORE_INDEX] * (target_length - len(e["labels"]))
                                    for e in examples]),
        }
        if all(REFERENCES_KEY in e for e in examples):
            batch[REFERENCES_KEY] = [e[REFERENCES_KEY] for e in examples]
        return batch


@register_family("translation")
class TranslationFamily(TaskFamily):
    def __init__(self, cfg: Any, tokenizer: Any):
        self.cfg = cfg if isinstance(cfg, TranslationTaskConfig) else parse(TranslationTaskConfig, cfg, "task")
        if self.cfg.metric not in TRANSLATION_METRICS:
            raise ConfigError(f"task.metric={self.cfg.metric!r}: expected one of {', '.join(TRANSLATION_METRICS)}")
        if self.cfg.max_length < 4:
            raise ConfigError(f"task.max_length={self.cfg.max_length}: must be >= 4")
        self.cfg.generation.validate("task.generation")
        check_code(self.cfg.source_code, "task.source_code")
        check_code(self.cfg.target_code, "task.target_code")
        self.name = self.cfg.name
        self.schedule = self.cfg.train
        self.tokenizer = tokenizer
        self.added_code = False
        code = self.cfg.new_language_code
        if code is not None and code not in tokenizer.get_vocab():
            add_code_token(tokenizer, code, "task.new_language_code")
            self.added_code = True
        for key in ("source_code", "target_code"):
            code_id(tokenizer, getattr(self.cfg, key), f"task.{key}")

    def build_model(self, model_path: str, model_cfg: ModelConfig) -> TaskModel:
        from transformers import AutoConfig, AutoModelForSeq2SeqLM

        revision = {"revision": model_cfg.revision} if model_cfg.revision and not model_cfg.is_tiny else {}
        config = AutoConfig.from_pretrained(model_path, **revision)
        if not getattr(config, "is_encoder_decoder", False):
            raise ConfigError(f"model.name_or_path={model_path!r}: task.family=translation needs an encoder-decoder "
                              f"model ({config.model_type} is not one)")
        backbone = AutoModelForSeq2SeqLM.from_pretrained(model_path, config=config, dtype=DTYPES[model_cfg.dtype],
                                                         **revision, **model_cfg.extra)
        if self.added_code:
            init_code_embedding(backbone, self.tokenizer, self.cfg.new_language_code, self.cfg.new_code_init,
                                "task")
        from xlt.tasks.models.translation import TranslationModel

        return TranslationModel(backbone, self.metric, self.tokenizer, self.cfg.target_code, self.cfg.generation)

    def metric(self) -> Metric:
        return TranslationMetric(self.cfg.metric)

    def collator(self) -> TranslationCollator:
        return TranslationCollator(self.tokenizer.pad_token_id)

    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        """Tokenised pairs: ``input_ids`` / ``attention_mask`` (source), ``labels`` (target), and the
        target text as the reference for chrF/BLEU."""
        source, target = self.cfg.source_field, self.cfg.target_field
        missing = [c for c in (source, target) if c not in dataset.column_names]
        if missing:
            raise DataError(f"{where}: missing column(s) {missing} (found {dataset.column_names})")
        tok = self.tokenizer
        tok.src_lang, tok.tgt_lang = self.cfg.source_code, self.cfg.target_code
        examples = []
        for start in range(0, len(dataset), 1000):
            chunk = dataset[start:start + 1000]
            pairs = [(s, t) for s, t in zip(chunk[source], chunk[target])
                     if isinstance(s, str) and isinstance(t, str) and s.strip() and t.strip()]
            if not pairs:
                continue
            encoded = tok([s for s, _ in pairs], text_target=[t for _, t in pairs], truncation=True,
                          max_length=self.cfg.max_length)
            for i, (_, reference) in enumerate(pairs):
                examples.append({"input_ids": encoded["input_ids"][i], "labels": encoded["labels"][i],
                                 REFERENCES_KEY: reference})
        if not examples:
            raise DataError(f"{where}: no translation pairs with both {source!r} and {target!r}")
        return examples
