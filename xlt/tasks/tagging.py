"""Token classification: POS tagging and NER (thesis §3.4.3, §4.4.3).

A single linear layer over the body's output at the FIRST subword of each word (the "standard
token-level single-layer head" of §4.4.3); the other subwords carry no label. Gold tags may be
renamed by ``label_map`` first (MasakhaNER DATE -> O and CoNLL-2003 MISC -> O, §4.4.3 fn. 3);
with ``scheme: iob2`` tags are then repaired to IOB2 (CoNLL-2003 files are IOB1). Metrics:
accuracy over words (POS) or entity-level F1 with seqeval (NER). Words with no subword inside
the model's window (truncated, or words the tokenizer drops) count as wrong (POS) or ``O`` (NER):
evaluation always covers every gold word.

Rows need ``tokens`` and the tag column (``upos`` / ``ner_tags``); hub ``universal_dependencies``
rows also hold multiword-token surface forms (head ``None``), which are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlt.config import check_choice
from xlt.data.collators import IGNORE_INDEX, pad_batch
from xlt.data.locations import row_origins, visible_columns
from xlt.data.readers import TextFileFormat
from xlt.errors import ConfigError, DataError
from xlt.eval.metrics import Accuracy, Metric
from xlt.eval.task_metrics import SpanF1
from xlt.schedule import Schedule
from xlt.tasks import register_family
from xlt.tasks.base import EncoderFamily

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel


@dataclass
class TokenClassificationConfig:
    name: str
    labels: list[str]
    family: str = "token_classification"
    tokens_field: str = "tokens"
    tags_field: str = "upos"
    label_map: dict[str, str] = field(default_factory=dict)  # rename gold tags first (e.g. B-MISC: O)
    scheme: str = "none"  # none | iob2 (repair IOB1 to IOB2 after label_map)
    metric: str = "accuracy"  # accuracy (POS) | span_f1 (NER)
    max_seq_length: int = 256
    train: Schedule = field(default_factory=Schedule)

    def validate(self, where: str) -> None:
        check_choice(self.metric, f"{where}.metric", ("accuracy", "span_f1"))
        check_choice(self.scheme, f"{where}.scheme", ("none", "iob2"))
        unknown = sorted(set(self.label_map.values()) - set(self.labels))
        if unknown:
            raise ConfigError(f"{where}.label_map: maps to {unknown[0]!r}, which is not in {where}.labels")


# ---------------------------------------------------------------------------- shared word handling
def multiword_free(row: dict[str, Any], fields: Sequence[str]) -> dict[str, list[Any]]:
    """The row's per-word ``fields`` without hub-style multiword-token entries (head ``None``/``_``)."""
    heads = row.get("head")
    if heads is None:
        return {f: list(row[f]) for f in fields}
    keep = [i for i, h in enumerate(heads) if h is not None and str(h) not in ("None", "_")]
    return {f: [row[f][i] for i in keep] for f in fields}


def encode_words(tokenizer: Any, words: list[list[str]], max_length: int) -> list[dict[str, Any]]:
    """Tokenise pre-split sentences; per sentence the model inputs plus ``word_starts`` /
    ``word_ends`` (subword span of each word; -1 where a word has no subword in the window)."""
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    out = []
    for i, sentence in enumerate(words):
        starts = [-1] * len(sentence)
        ends = [-1] * len(sentence)
        for position, word in enumerate(encoded.word_ids(i)):
            if word is None:
                continue
            if starts[word] < 0:
                starts[word] = position
            ends[word] = position + 1
        example = {key: encoded[key][i] for key in encoded.keys()}
        example["word_starts"], example["word_ends"] = starts, ends
        out.append(example)
    return out


def pad_words(examples: Sequence[dict[str, Any]], key: str, pad: int) -> torch.Tensor:
    length = max(1, max(len(e[key]) for e in examples))
    return torch.tensor([list(e[key]) + [pad] * (length - len(e[key])) for e in examples], dtype=torch.long)


def iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 (or mixed) to IOB2: an ``I-X`` that does not continue an ``X`` entity becomes ``B-X``.
    Idempotent on IOB2."""
    out: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def model_inputs(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}


class TokenCollator:
    """Pads subword fields and the per-word gold tags (``word_labels``) and word positions."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = pad_batch(examples, self.pad_token_id, label_keys=("labels",))
        batch.pop("special_tokens_mask", None)
        batch["word_starts"] = pad_words(examples, "word_starts", -1)
        batch["word_labels"] = pad_words(examples, "word_labels", IGNORE_INDEX)
        return batch


# ---------------------------------------------------------------------------- model
class TokenClassificationHead(nn.Module):
    def __init__(self, hidden_size: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(hidden))


@register_family("token_classification")
class TokenClassificationFamily(EncoderFamily):
    config_class = TokenClassificationConfig

    def __init__(self, cfg: Any, tokenizer: Any):
        super().__init__(cfg, tokenizer)
        self.label_ids = {label: i for i, label in enumerate(self.cfg.labels)}

    def make_model(self, body: nn.Module, hidden_size: int, dropout: float) -> TaskModel:
        head = TokenClassificationHead(hidden_size, len(self.cfg.labels), dropout)
        from xlt.tasks.models.tagging import TokenClassifier

        return TokenClassifier(body, head, self.metric, list(self.cfg.labels), self.cfg.metric == "span_f1")

    def metric(self) -> Metric:
        return SpanF1() if self.cfg.metric == "span_f1" else Accuracy()

    def collator(self) -> TokenCollator:
        return TokenCollator(self.tokenizer.pad_token_id)

    def text_file_format(self) -> TextFileFormat:
        """A ``.txt`` file holds CoNLL columns (token ... tag; CoNLL-2003, MasakhaNER), its tags in
        ``task.tags_field``, checked as IOB tags when the task scores entity spans."""
        return TextFileFormat("conll", {"tags_field": self.cfg.tags_field,
                                        "check_tags": self.cfg.metric == "span_f1" or self.cfg.scheme == "iob2"})

    def tag_ids(self, tags: Sequence[str], origin: str) -> list[int]:
        """Label ids of one sentence's gold tags; errors name ``origin`` (the sentence's ``file:line``)
        and the word (1-based)."""
        tags = [self.cfg.label_map.get(str(t), str(t)) for t in tags]
        if self.cfg.scheme == "iob2":
            tags = iob2(tags)
        try:
            return [self.label_ids[t] for t in tags]
        except KeyError as error:
            word = tags.index(error.args[0]) + 1
            raise DataError(f"{origin}: word {word}: unknown tag {error.args[0]!r} "
                            f"(task.labels: {self.cfg.labels}; map it with task.label_map)") from None

    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        fields = [self.cfg.tokens_field, self.cfg.tags_field]
        missing = [f for f in fields if f not in dataset.column_names]
        if missing:
            raise DataError(f"{where}: missing column(s) {missing} (found {visible_columns(dataset.column_names)})")
        examples = []
        for start in range(0, len(dataset), 1000):
            chunk = dataset[start:start + 1000]
            rows = [{k: chunk[k][i] for k in chunk} for i in range(len(chunk[fields[0]]))]
            origins = row_origins(chunk, where, start)
            words, tags = [], []
            for i, row in enumerate(rows):
                clean = multiword_free(row, fields)
                if not clean[fields[0]]:
                    continue
                words.append([str(w) for w in clean[fields[0]]])
                tags.append(self.tag_ids(clean[fields[1]], origins[i]))
            for example, sentence_tags in zip(encode_words(self.tokenizer, words, self.cfg.max_seq_length), tags):
                labels = [IGNORE_INDEX] * len(example["input_ids"])
                for word, position in enumerate(example["word_starts"]):
                    if position >= 0:
                        labels[position] = sentence_tags[word]
                example["labels"] = labels
                example["word_labels"] = sentence_tags
                del example["word_ends"]
                examples.append(example)
        if not examples:
            raise DataError(f"{where}: no sentences")
        return examples
