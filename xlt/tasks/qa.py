"""Extractive question answering (thesis §4.4.4, Table 4.3): SQuAD, MLQA, XQuAD.

The question and the context are encoded together; a context longer than ``max_seq_length`` is cut
into windows that overlap by ``doc_stride`` tokens, each window a training/evaluation example. A
linear head gives start and end logits per token. Training targets are the answer's first and last
token in the window, or the first token (<s>/[CLS]) when the answer is not inside it. At evaluation
each window proposes its best span (start + end logit sum, context tokens only, length <=
``max_answer_length``); an example's answer is the best-scoring span over all its windows, scored
with exact match and F1 against every gold answer: by SQuAD v1.1's rules (SQuAD, XQuAD), or by the
official MLQA rules of the answer language for a split whose rows carry an ``answer_scoring`` column
``mlqa:<lang>`` (a data location adds it: ``add_columns: {answer_scoring: "mlqa:{lang}"}``, as
conf/data/xquad_multisource.yaml does for its MLQA validation sets, which select the checkpoints).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from xlt.config import check_number
from xlt.data.collators import pad_batch
from xlt.data.locations import row_origins, visible_columns
from xlt.errors import DataError
from xlt.eval.metrics import Metric
from xlt.eval.task_metrics import AnswerScoring, SquadScores
from xlt.schedule import Schedule
from xlt.tasks import register_family
from xlt.tasks.base import EncoderFamily

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel


@dataclass
class QAConfig:
    name: str = "qa"
    family: str = "extractive_qa"
    max_seq_length: int = 384
    doc_stride: int = 128
    max_answer_length: int = 30
    train: Schedule = field(default_factory=Schedule)

    def validate(self, where: str) -> None:
        check_number(self.max_seq_length, f"{where}.max_seq_length", minimum=8, integer=True)
        check_number(self.doc_stride, f"{where}.doc_stride", minimum=1, below=self.max_seq_length, integer=True)
        check_number(self.max_answer_length, f"{where}.max_answer_length", minimum=1, integer=True)


class QACollator:
    """Pads the inputs; ``offsets`` [B, L, 2] holds each context token's character span (-1 elsewhere);
    the examples' keys, contexts and gold answers travel as lists."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = pad_batch(examples, self.pad_token_id)
        batch.pop("special_tokens_mask", None)
        length = batch["input_ids"].shape[1]
        offsets = np.full((len(examples), length, 2), -1, dtype=np.int64)
        for row, example in enumerate(examples):
            start = example["context_start"]
            spans = example["context_offsets"]
            offsets[row, start:start + len(spans)] = spans
        batch["offsets"] = torch.from_numpy(offsets)
        batch["start_positions"] = torch.tensor([e["start_position"] for e in examples], dtype=torch.long)
        batch["end_positions"] = torch.tensor([e["end_position"] for e in examples], dtype=torch.long)
        batch["example_key"] = [e["example_key"] for e in examples]
        batch["context"] = [e["context"] for e in examples]
        batch["gold_answers"] = [e["gold_answers"] for e in examples]
        batch["answer_scoring"] = [e.get("answer_scoring", "squad") for e in examples]
        return batch


@register_family("extractive_qa")
class QAFamily(EncoderFamily):
    config_class = QAConfig

    def make_model(self, body: nn.Module, hidden_size: int, dropout: float) -> TaskModel:
        from xlt.tasks.models.qa import QuestionAnswering

        return QuestionAnswering(body, nn.Linear(hidden_size, 2), self.metric, self.cfg.max_answer_length)

    def metric(self) -> Metric:
        return SquadScores()

    def collator(self) -> QACollator:
        return QACollator(self.tokenizer.pad_token_id)

    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        missing = [f for f in ("id", "question", "context", "answers") if f not in dataset.column_names]
        if missing:
            raise DataError(f"{where}: missing column(s) {missing} (found {visible_columns(dataset.column_names)})")
        examples: list[dict[str, Any]] = []
        for chunk_start in range(0, len(dataset), 500):
            chunk = dataset[chunk_start:chunk_start + 500]
            scorings = self._answer_scorings(chunk, chunk_start, where)
            questions = [q.lstrip() for q in chunk["question"]]
            encoded = self.tokenizer(questions, chunk["context"], truncation="only_second",
                                     max_length=self.cfg.max_seq_length, stride=self.cfg.doc_stride,
                                     return_overflowing_tokens=True, return_offsets_mapping=True)
            for window in range(len(encoded["input_ids"])):
                i = encoded["overflow_to_sample_mapping"][window]
                context, answers = chunk["context"][i], chunk["answers"][i]
                sequence = encoded.sequence_ids(window)
                if 1 not in sequence:
                    origin = row_origins(chunk, where, chunk_start)[i]
                    raise DataError(f"{origin}: the question leaves no room for context "
                                    f"within max_seq_length={self.cfg.max_seq_length}")
                first = sequence.index(1)
                last = len(sequence) - 1 - sequence[::-1].index(1)
                offsets = encoded["offset_mapping"][window]
                start_position = end_position = 0
                if answers["answer_start"]:
                    begin = int(answers["answer_start"][0])
                    finish = begin + len(answers["text"][0])
                    if offsets[first][0] <= begin and offsets[last][1] >= finish:
                        token = first
                        while token <= last and offsets[token][0] <= begin:
                            token += 1
                        start_position = token - 1
                        token = last
                        while token >= first and offsets[token][1] >= finish:
                            token -= 1
                        end_position = token + 1
                example = {key: encoded[key][window] for key in ("input_ids", "attention_mask", "token_type_ids")
                           if key in encoded}
                example.update({
                    "start_position": start_position, "end_position": end_position,
                    "context_start": first,
                    "context_offsets": np.asarray(offsets[first:last + 1], dtype=np.int32).reshape(-1, 2),
                    "example_key": f"{chunk_start + i}:{chunk['id'][i]}", "context": context,
                    "gold_answers": list(answers["text"]), "answer_scoring": scorings[i],
                })
                examples.append(example)
        if not examples:
            raise DataError(f"{where}: no examples")
        return examples

    @staticmethod
    def _answer_scorings(chunk: dict[str, list[Any]], start: int, where: str) -> list[str]:
        """Each row's scoring (``squad`` / ``mlqa:<lang>``, checked) from the optional ``answer_scoring``
        column; ``squad`` without it."""
        values = chunk.get("answer_scoring") or [None] * len(chunk["id"])
        scorings = []
        for offset, value in enumerate(values):
            try:
                scoring = AnswerScoring.parse(value)
            except ValueError as error:
                raise DataError(f"{where}: example {start + offset}: {error}") from None
            scorings.append("squad" if scoring.rules == "squad" else f"mlqa:{scoring.lang}")
        return scorings
