"""Metrics of the token-level, parsing and QA tasks (thesis §4.4.3, §4.4.4, Table 4.2-4.3).

- :class:`SpanF1`: entity-level micro precision/recall/F1 with ``seqeval`` (NER; conlleval rules:
  an ``I-X`` after ``O`` or another type opens a new entity, so IOB1 and IOB2 both score right).
- :class:`AttachmentScores`: UAS (right head) and LAS (right head and right relation) over words
  (DP; checkpoints are selected by LAS).
- :class:`SquadScores`: exact match and token F1 of the official SQuAD v1.1 evaluation (answer
  normalisation: lower-case, drop punctuation and the articles a/an/the, collapse whitespace; max
  over the gold answers), as used for SQuAD, XQuAD and MLQA in §4.4.4.

Values are fractions in [0, 1] like the other metrics; tables print them x100.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import torch

from xlt.eval.metrics import Metric


class SpanF1(Metric):
    """Entity-level micro F1 over tag sequences (NER, §3.4.3, §4.4.3)."""

    primary = "f1"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.gold: list[list[str]] = []
        self.predicted: list[list[str]] = []

    def update(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
        for p, g in zip(predicted, gold):
            if len(p) != len(g):
                raise ValueError(f"prediction has {len(p)} tags, gold has {len(g)}")
            self.predicted.append(list(p))
            self.gold.append(list(g))

    def compute(self) -> dict[str, float]:
        from seqeval.metrics.sequence_labeling import accuracy_score, precision_recall_fscore_support

        if not self.gold:
            return {"f1": 0.0, "precision": 0.0, "recall": 0.0, "accuracy": 0.0}
        precision, recall, f1, _ = precision_recall_fscore_support(self.gold, self.predicted, average="micro",
                                                                   zero_division=0)
        return {"f1": float(f1), "precision": float(precision), "recall": float(recall),
                "accuracy": float(accuracy_score(self.gold, self.predicted))}


class AttachmentScores(Metric):
    """Unlabelled and labelled attachment scores over words (DP, §4.4.3)."""

    primary = "las"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.words = 0
        self.right_head = 0
        self.right_both = 0

    def update(self, heads: torch.Tensor, rels: torch.Tensor, gold_heads: torch.Tensor, gold_rels: torch.Tensor,
               ignore_index: int = -100) -> None:
        """Tensors of equal shape; positions whose gold head is ``ignore_index`` are padding."""
        keep = gold_heads != ignore_index
        head_ok = (heads == gold_heads) & keep
        self.words += int(keep.sum())
        self.right_head += int(head_ok.sum())
        self.right_both += int((head_ok & (rels == gold_rels)).sum())

    def compute(self) -> dict[str, float]:
        if not self.words:
            return {"uas": 0.0, "las": 0.0}
        return {"uas": self.right_head / self.words, "las": self.right_both / self.words}


# ---------------------------------------------------------------------------- SQuAD
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def squad_exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    predicted_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = Counter(predicted_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(predicted_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


class SquadScores(Metric):
    """SQuAD EM/F1 over examples whose answer may span several windows: each window offers its best
    span with a score, and the example's answer is the best-scoring span over all its windows."""

    primary = "f1"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.best: dict[str, tuple[float, str]] = {}
        self.golds: dict[str, list[str]] = {}

    def update(self, example_ids: Sequence[str], spans: Sequence[tuple[float, str]],
               golds: Sequence[Sequence[str]]) -> None:
        """One entry per window: its example id, (score, answer text) and the example's gold answers."""
        for key, (score, text), gold in zip(example_ids, spans, golds):
            self.golds[key] = list(gold)
            if key not in self.best or score > self.best[key][0]:
                self.best[key] = (score, text)

    def compute(self) -> dict[str, float]:
        if not self.golds:
            return {"f1": 0.0, "exact_match": 0.0}
        f1 = em = 0.0
        for key, gold in self.golds.items():
            prediction = self.best.get(key, (0.0, ""))[1]
            gold = gold or [""]
            f1 += max(squad_f1(prediction, g) for g in gold)
            em += max(squad_exact_match(prediction, g) for g in gold)
        return {"f1": f1 / len(self.golds), "exact_match": em / len(self.golds)}
