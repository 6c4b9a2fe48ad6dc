"""Removing training examples that are test sentences in disguise (thesis Table 6.1 note, §6.4.1).

NusaX was made by editing and translating a subset of SMSA, so SMSA's training split holds NusaX's
test sentences, unchanged or lightly modified: the thesis removes "every example from SMSA which
appears in its original or modified form in the NusaX test set". The SMSA-relevant test set is
NusaX's Indonesian one (the other languages are its translations); others can be passed too.

Rule (ours): a training text is removed when, after :func:`normalise_text` (Unicode NFKC, case
folding, punctuation and symbols dropped, whitespace collapsed), it equals a test sentence or has a
normalised Levenshtein similarity ``1 - d(a, b) / max(|a|, |b|) >= threshold`` to one. Default 0.85:
at most 15% of the characters inserted, deleted or substituted, e.g. one or two replaced words or a
few typo fixes in a typical SMSA review; unrelated sentences of one language score around 0.3-0.6.

Speed: candidate pairs come from the q-gram count filter (Ukkonen 1992, "q-gram lemma": strings at
edit distance <= k share at least ``max(|a|, |b|) - q + 1 - k q`` q-grams, counted with
multiplicity), computed for all pairs at once as a sparse product; it is lossless, so only
candidates get the exact edit distance (bit-parallel, :func:`levenshtein`). At 0.85 the filter
leaves almost no unrelated pairs (11k x 400 synthetic sentences: 25 candidates); at 0.8 it leaves
~2% of all pairs, and the exact distances then take about a minute.

The reference code (unified-xlt ``map_nusa.py``) instead dropped the nearest SMSA sentence of every
test sentence, whatever its distance: for a test sentence with no counterpart in SMSA it removes an
unrelated example. The report lists, for every test sentence, its nearest training text (by q-gram
Dice) and that pair's similarity, so the two rules can be compared.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from xlt.errors import DataError


def normalise_text(text: str) -> str:
    """NFKC, case-folded, punctuation and symbols removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    return " ".join(kept.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), by the bit-parallel algorithm of Myers
    (1999) in Hyyro's (2001) formulation: one pass over the longer text with the shorter one's
    positions as the bits of Python integers (about a millisecond for two 200-character texts)."""
    if len(a) < len(b):
        a, b = b, a
    length = len(b)
    if length == 0:
        return len(a)
    positions: dict[str, int] = {}
    for index, char in enumerate(b):
        positions[char] = positions.get(char, 0) | (1 << index)
    full, high = (1 << length) - 1, 1 << (length - 1)
    plus, minus, score = full, 0, length  # vertical +1 / -1 deltas of the DP column
    for char in a:
        equal = positions.get(char, 0)
        vertical = equal | minus
        horizontal = (((equal & plus) + plus) ^ plus) | equal
        h_plus = (minus | ~(horizontal | plus)) & full
        h_minus = plus & horizontal
        if h_plus & high:
            score += 1
        elif h_minus & high:
            score -= 1
        h_plus = ((h_plus << 1) | 1) & full
        h_minus = (h_minus << 1) & full
        plus = (h_minus | ~(vertical | h_plus)) & full
        minus = h_plus & vertical
    return score


def similarity(a: str, b: str) -> float:
    """Normalised Levenshtein similarity of two (already normalised) texts, in [0, 1]."""
    if not a and not b:
        return 1.0
    return 1.0 - levenshtein(a, b) / max(len(a), len(b))


@dataclass
class RemovedExample:
    train_index: int  # position in the training rows given
    train_text: str
    test_index: int  # position in the test sentences given
    test_text: str
    test_id: str | None
    similarity: float  # 1.0 for a match after normalisation


@dataclass
class NearestNeighbour:
    """A test sentence's nearest training text by q-gram Dice (what the reference rule removes)."""

    test_index: int
    test_id: str | None
    train_index: int | None
    similarity: float  # normalised Levenshtein similarity of that pair
    removed: bool  # whether our rule removes that training row (matched to this or another test sentence)


@dataclass
class TrimReport:
    threshold: float
    q: int
    train: int
    test: int
    removed: int
    exact: int  # removed because equal after normalisation
    near: int  # removed by the similarity threshold
    unmatched_tests: int  # test sentences no training text matched
    examples: list[RemovedExample] = field(default_factory=list)
    nearest: list[NearestNeighbour] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _qgram_features(text: str, q: int) -> list[tuple[str, int]]:
    """The q-grams of ``text`` numbered by occurrence: set overlap of these = multiset overlap."""
    counts: Counter[str] = Counter()
    features = []
    for start in range(max(0, len(text) - q + 1)):
        gram = text[start:start + q]
        counts[gram] += 1
        features.append((gram, counts[gram]))
    return features


def _shared_qgrams(train: Sequence[str], test: Sequence[str], q: int, block: int = 256) -> torch.Tensor:
    """(train x test) counts of shared q-grams (with multiplicity): a sparse (train x features) CSR
    matrix times dense blocks of the test matrix (features that no test text has are left out)."""
    vocabulary: dict[tuple[str, int], int] = {}
    test_rows, test_cols = [], []
    for row, text in enumerate(test):
        for feature in _qgram_features(text, q):
            test_rows.append(row)
            test_cols.append(vocabulary.setdefault(feature, len(vocabulary)))
    train_rows, train_cols = [], []
    for row, text in enumerate(train):
        for feature in _qgram_features(text, q):
            column = vocabulary.get(feature)
            if column is not None:
                train_rows.append(row)
                train_cols.append(column)
    shared = torch.zeros(len(train), len(test), dtype=torch.int32)
    if not train_rows:
        return shared
    size = len(vocabulary)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        train_matrix = torch.sparse_coo_tensor(torch.tensor([train_rows, train_cols]), torch.ones(len(train_rows)),
                                               (len(train), size)).to_sparse_csr()
    test_rows_t, test_cols_t = torch.tensor(test_rows), torch.tensor(test_cols)
    for start in range(0, len(test), block):
        inside = (test_rows_t >= start) & (test_rows_t < start + block)
        dense = torch.zeros(size, min(block, len(test) - start))
        dense[test_cols_t[inside], test_rows_t[inside] - start] = 1.0
        shared[:, start:start + dense.shape[1]] = (train_matrix @ dense).round().to(torch.int32)
    return shared


def trim_near_duplicates(train_rows: Sequence[Mapping[str, Any]], test_texts: Sequence[str], text_field: str = "text",
                         threshold: float = 0.85, q: int = 3, test_ids: Sequence[str] | None = None,
                         where: str = "train") -> tuple[list[dict[str, Any]], TrimReport]:
    """Training rows without those matching a test sentence (module docstring), and the report.

    Kept rows are the input rows (copies, input order). Each removed row is reported once, with the
    test sentence it is most similar to."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    if test_ids is not None and len(test_ids) != len(test_texts):
        raise ValueError("test_ids must name every test sentence")
    train_texts = []
    for number, row in enumerate(train_rows):
        if text_field not in row or not isinstance(row[text_field], str):
            raise DataError(f"{where}: row {number} has no text field {text_field!r}")
        train_texts.append(normalise_text(row[text_field]))
    tests = [normalise_text(text) for text in test_texts]
    shared = _shared_qgrams(train_texts, tests, q)
    train_lengths = torch.tensor([len(t) for t in train_texts], dtype=torch.int32).unsqueeze(1)
    test_lengths = torch.tensor([len(t) for t in tests], dtype=torch.int32).unsqueeze(0)
    longest = torch.maximum(train_lengths, test_lengths)
    max_edits = torch.floor((1.0 - threshold) * longest.double() + 1e-9).to(torch.int32)
    candidates = ((train_lengths - test_lengths).abs() <= max_edits) & (shared >= longest - q + 1 - max_edits * q)
    candidates &= (train_lengths > 0) & (test_lengths > 0)

    best: dict[int, tuple[float, int]] = {}  # train index -> (similarity, test index)
    matched_tests: set[int] = set()
    for train_index, test_index in candidates.nonzero().tolist():
        a, b = train_texts[train_index], tests[test_index]
        distance = levenshtein(a, b)
        if distance > int(max_edits[train_index, test_index]):
            continue
        score = 1.0 - distance / max(len(a), len(b))
        matched_tests.add(test_index)
        if train_index not in best or score > best[train_index][0]:
            best[train_index] = (score, test_index)

    def test_id(index: int) -> str | None:
        return None if test_ids is None else str(test_ids[index])

    examples = [RemovedExample(i, train_rows[i][text_field], j, test_texts[j], test_id(j), round(score, 4))
                for i, (score, j) in sorted(best.items())]
    nearest = []
    if len(train_texts):
        dice = 2 * shared.double() / (train_lengths + test_lengths - 2 * (q - 1)).clamp(min=1).double()
        for j, i in enumerate(dice.argmax(0).tolist()):
            score = similarity(train_texts[i], tests[j]) if tests[j] else 0.0
            nearest.append(NearestNeighbour(j, test_id(j), i, round(score, 4), i in best))
    kept = [dict(row) for number, row in enumerate(train_rows) if number not in best]
    report = TrimReport(threshold=threshold, q=q, train=len(train_rows), test=len(tests), removed=len(best),
                        exact=sum(e.similarity == 1.0 for e in examples),
                        near=sum(e.similarity < 1.0 for e in examples),
                        unmatched_tests=len(tests) - len(matched_tests), examples=examples, nearest=nearest)
    return kept, report
