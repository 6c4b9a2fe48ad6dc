"""Sequence(-pair) classification: NLI and sentiment analysis (thesis §4.4.3, §6.4).

A two-layer head on the first token ([CLS] / <s>) of the body's output: dropout, dense,
tanh, dropout, projection to the labels (§4.4.3). Labels given as strings are mapped through
``labels``; integer labels (also digits in a text column) must already follow that order. Metric: accuracy (NLI) or
macro-F1 (SA).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlt.config import check_choice, check_number
from xlt.data.collators import ClassificationCollator
from xlt.data.locations import row_origins, visible_columns
from xlt.errors import DataError
from xlt.eval.metrics import Accuracy, MacroF1, Metric
from xlt.schedule import Schedule
from xlt.tasks import register_family
from xlt.tasks.base import EncoderFamily

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel


@dataclass
class ClassificationConfig:
    name: str
    labels: list[str]
    family: str = "classification"
    text_fields: list[str] = field(default_factory=lambda: ["premise", "hypothesis"])
    label_field: str = "label"
    max_seq_length: int = 128
    metric: str = "accuracy"  # or macro_f1
    label_map: dict[str, str] = field(default_factory=dict)  # rename source labels first
    train: Schedule = field(default_factory=Schedule)

    def validate(self, where: str) -> None:
        check_choice(self.metric, f"{where}.metric", ("accuracy", "macro_f1"))
        check_number(self.max_seq_length, f"{where}.max_seq_length", minimum=8, integer=True)


class ClassificationHead(nn.Module):
    """Two-layer head on the first token (§4.4.3)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])
        x = torch.tanh(self.dense(x))
        return self.out_proj(self.dropout(x))


@register_family("classification")
class ClassificationFamily(EncoderFamily):
    config_class = ClassificationConfig

    def make_model(self, body: nn.Module, hidden_size: int, dropout: float) -> TaskModel:
        from xlt.tasks.models.classification import SequenceClassifier

        return SequenceClassifier(body, ClassificationHead(hidden_size, len(self.cfg.labels), dropout), self.metric)

    def metric(self) -> Metric:
        return Accuracy() if self.cfg.metric == "accuracy" else MacroF1(len(self.cfg.labels))

    def collator(self) -> ClassificationCollator:
        return ClassificationCollator(self.tokenizer.pad_token_id)

    def _label_id(self, value: Any, origin: str) -> int | None:
        labels = self.cfg.labels
        if isinstance(value, str):
            value = self.cfg.label_map.get(value, value)
            if value in ("-", ""):
                return None  # no gold label (MultiNLI "-")
            if value not in labels and value.isdigit():
                value = int(value)  # a label id written as text (e.g. a TSV column), in task.labels order
            elif value not in labels:
                raise DataError(f"{origin}: unknown label {value!r} (labels: {labels})")
            else:
                return labels.index(value)
        if value is None or int(value) < 0:
            return None
        if int(value) >= len(labels):
            raise DataError(f"{origin}: label id {value} out of range for {labels}")
        return int(value)

    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        fields = self.cfg.text_fields
        missing = [f for f in [*fields, self.cfg.label_field] if f not in dataset.column_names]
        if missing:
            raise DataError(f"{where}: missing column(s) {missing} (found {visible_columns(dataset.column_names)})")
        examples = []
        for start in range(0, len(dataset), 1000):
            chunk = dataset[start:start + 1000]
            texts = [chunk[f] for f in fields]
            encoded = self.tokenizer(*texts, truncation=True, max_length=self.cfg.max_seq_length)
            origins = row_origins(chunk, where, start)
            for i, value in enumerate(chunk[self.cfg.label_field]):
                label = self._label_id(value, origins[i])
                if label is None:
                    continue
                example = {key: encoded[key][i] for key in encoded.keys()}
                example["labels"] = label
                examples.append(example)
        if not examples:
            raise DataError(f"{where}: no labelled examples")
        return examples
