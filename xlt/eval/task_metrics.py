"""Metrics of the token-level, parsing and QA tasks (thesis §4.4.3, §4.4.4, Table 4.2-4.3).

- :class:`SpanF1`: entity-level micro precision/recall/F1 with ``seqeval`` (NER; conlleval rules:
  an ``I-X`` after ``O`` or another type opens a new entity, so IOB1 and IOB2 both score right).
- :class:`AttachmentScores`: UAS (right head) and LAS (right head and right relation) over words
  (DP; checkpoints are selected by LAS).
- :class:`SquadScores`: exact match and token F1 (max over the gold answers) of extractive QA
  (§4.4.4), each example by its :class:`AnswerScoring`: the official SQuAD v1.1 evaluation (answer
  normalisation: lower-case, drop ASCII punctuation and the articles a/an/the, collapse whitespace;
  SQuAD and XQuAD, as XQuAD's authors score it) or the official MLQA v1 evaluation
  (``mlqa_evaluation_v1.py``, for MLQA sets): drop every Unicode punctuation character, the answer
  language's articles, and split Chinese into characters.

Values are fractions in [0, 1] like the other metrics; tables print them x100.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

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


# ---------------------------------------------------------------------------- SQuAD and MLQA
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


def _token_f1(predicted_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    common = Counter(predicted_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(predicted_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_f1(prediction: str, gold: str) -> float:
    return _token_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


# The official MLQA v1 evaluation (Lewis et al., 2020, mlqa_evaluation_v1.py), per answer language.
MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    # the script's pattern '\sال^|ال': its first branch can never match (^ after three characters), so
    # every occurrence of the prefix ال, wherever it is, becomes a space
    "ar": re.compile("ال"),
    "hi": None,  # no articles
    "zh": None,
}
MLQA_MIXED_SEGMENTATION = ("zh",)  # CJK characters (and punctuation) are tokens of their own
_CJK = re.compile("[\u4e00-\u9fa5]")


@cache
def unicode_punctuation() -> frozenset[str]:
    """Every character whose Unicode category starts with P, plus ASCII punctuation (MLQA's PUNCT)."""
    return frozenset(chr(i) for i in range(sys.maxunicode)
                     if unicodedata.category(chr(i)).startswith("P")).union(string.punctuation)


def mixed_segmentation(text: str) -> list[str]:
    """MLQA's tokenisation of Chinese: each CJK character (U+4E00..U+9FA5) or punctuation mark is a
    token; the text between them is split on whitespace."""
    punctuation = unicode_punctuation()
    tokens: list[str] = []
    pending = ""
    for char in text:
        if _CJK.search(char) or char in punctuation:
            tokens.extend(pending.split())
            pending = ""
            tokens.append(char)
        else:
            pending += char
    tokens.extend(pending.split())
    return tokens


def mlqa_normalize_answer(text: str, lang: str) -> str:
    """The official MLQA normalisation for answer language ``lang``: lower-case, drop Unicode
    punctuation, drop the language's articles, tokenise (whitespace; Chinese: mixed segmentation)
    and join the tokens with single spaces."""
    if lang not in MLQA_ARTICLES:
        raise ValueError(f"MLQA has no rules for language {lang!r} (known: {', '.join(MLQA_ARTICLES)})")
    punctuation = unicode_punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punctuation)
    articles = MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = mixed_segmentation(text) if lang in MLQA_MIXED_SEGMENTATION else text.split()
    return " ".join(token for token in tokens if token.strip())


def mlqa_exact_match(prediction: str, gold: str, lang: str) -> float:
    return float(mlqa_normalize_answer(prediction, lang) == mlqa_normalize_answer(gold, lang))


def mlqa_f1(prediction: str, gold: str, lang: str) -> float:
    return _token_f1(mlqa_normalize_answer(prediction, lang).split(), mlqa_normalize_answer(gold, lang).split())


@dataclass(frozen=True)
class AnswerScoring:
    """How an extractive-QA answer is compared with the gold answers: ``squad`` (SQuAD v1.1's rules)
    or ``mlqa`` with the answer language ``lang`` (MLQA v1's rules). Written ``squad`` or ``mlqa:<lang>``."""

    rules: str = "squad"
    lang: str | None = None

    @classmethod
    @cache
    def parse(cls, text: str | None) -> AnswerScoring:
        """From ``squad`` / ``mlqa:<lang>`` (None: squad); ValueError naming the problem otherwise.
        Examples and batches carry the text (Lightning rebuilds dataclasses in batches)."""
        if text is None or text == "squad":
            return cls()
        rules, _, lang = str(text).partition(":")
        if rules != "mlqa" or not lang:
            raise ValueError(f"answer scoring {text!r}: expected squad or mlqa:<language>")
        if lang not in MLQA_ARTICLES:
            raise ValueError(f"answer scoring {text!r}: MLQA has no rules for {lang!r} "
                             f"(its languages: {', '.join(MLQA_ARTICLES)})")
        return cls("mlqa", lang)

    def exact_match(self, prediction: str, gold: str) -> float:
        if self.rules == "mlqa":
            return mlqa_exact_match(prediction, gold, str(self.lang))
        return squad_exact_match(prediction, gold)

    def f1(self, prediction: str, gold: str) -> float:
        if self.rules == "mlqa":
            return mlqa_f1(prediction, gold, str(self.lang))
        return squad_f1(prediction, gold)


SQUAD = AnswerScoring()


class SquadScores(Metric):
    """EM/F1 over examples whose answer may span several windows: each window offers its best span
    with a score, and the example's answer is the best-scoring span over all its windows; each
    example is scored by its own :class:`AnswerScoring` (SQuAD's rules unless given)."""

    primary = "f1"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.best: dict[str, tuple[float, str]] = {}
        self.golds: dict[str, list[str]] = {}
        self.scoring: dict[str, AnswerScoring] = {}

    def update(self, example_ids: Sequence[str], spans: Sequence[tuple[float, str]],
               golds: Sequence[Sequence[str]], scorings: Sequence[str | None] | None = None) -> None:
        """One entry per window: its example id, (score, answer text), the example's gold answers
        and (optionally) how the example is scored (``squad`` / ``mlqa:<lang>``, :class:`AnswerScoring`)."""
        for index, (key, (score, text), gold) in enumerate(zip(example_ids, spans, golds)):
            self.golds[key] = list(gold)
            self.scoring[key] = AnswerScoring.parse(scorings[index]) if scorings is not None else SQUAD
            if key not in self.best or score > self.best[key][0]:
                self.best[key] = (score, text)

    def compute(self) -> dict[str, float]:
        if not self.golds:
            return {"f1": 0.0, "exact_match": 0.0}
        f1 = em = 0.0
        for key, gold in self.golds.items():
            prediction = self.best.get(key, (0.0, ""))[1]
            gold = gold or [""]
            scoring = self.scoring[key]
            f1 += max(scoring.f1(prediction, g) for g in gold)
            em += max(scoring.exact_match(prediction, g) for g in gold)
        return {"f1": f1 / len(self.golds), "exact_match": em / len(self.golds)}
