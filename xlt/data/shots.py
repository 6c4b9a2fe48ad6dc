"""Few-shot target-language data: K gold examples per target language (thesis §6.4.3, Figure 6.1).

:func:`sample_shots` takes K rows of a language's labelled split (AmericasNLI: the language's
validation split; NusaX: its train + validation splits):

* ``random``: a seeded sample, reproducible per (seed, language); a smaller K's sample is a subset
  of a larger K's (one seeded permutation, cut at K), so K in {20, 100, 500} are nested.
* ``stratified``: the same per label, with each label's share proportional to its frequency (largest
  remainders), exactly K in total.
* ``first``: the first K rows, no seed (the reference code's choice, unified-xlt).

Asking for more rows than exist takes them all, with a logged note (§6.4.3, footnote 2: 223 and 377
shots for NAH and OTO under K = 500). :func:`check_disjoint` verifies, by the normalised text of
the input fields, that no shot is also a test example (a DataError naming both files otherwise).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xlt.data.near_duplicates import normalise_text
from xlt.errors import ConfigError, DataError
from xlt.utils.hashing import stable_hash

log = logging.getLogger(__name__)

SHOT_POLICIES = ("random", "stratified", "first")


@dataclass
class Shots:
    rows: list[dict[str, Any]]  # the selected rows, in the split's order
    requested: int
    available: int
    policy: str
    indices: list[int] = field(default_factory=list)  # their positions in the split

    @property
    def taken(self) -> int:
        return len(self.rows)

    @property
    def clipped(self) -> bool:
        return self.taken < self.requested


def _rng(seed: int, language: str) -> random.Random:
    return random.Random(int(stable_hash({"seed": seed, "language": language, "purpose": "shots"}), 16))


def _largest_remainder(k: int, sizes: Sequence[int]) -> list[int]:
    """Integer quotas proportional to ``sizes`` summing to ``k`` (Hamilton's method; ties: first)."""
    total = sum(sizes)
    exact = [k * size / total for size in sizes]
    quotas = [int(value) for value in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in by_remainder[:k - sum(quotas)]:
        quotas[i] += 1
    return quotas


def sample_shots(rows: Sequence[Mapping[str, Any]], k: int, policy: str = "random", seed: int = 0,
                 language: str = "", label_field: str = "label", where: str = "shots") -> Shots:
    """K rows of ``rows`` by ``policy`` (module docstring); fewer, with a logged note, if fewer exist.

    ``where`` names the config section in errors (e.g. ``data.shots``) and the split in the note."""
    if policy not in SHOT_POLICIES:
        raise ConfigError(f"{where}.policy={policy!r}: expected one of {', '.join(SHOT_POLICIES)}")
    if not isinstance(k, int) or k < 0:
        raise ConfigError(f"{where}.k={k!r}: must be an integer >= 0")
    available = len(rows)
    wanted = min(k, available)
    if k > available:
        log.warning("%s (%s): %d shots requested but only %d labelled rows exist: taking all %d",
                    where, language or "?", k, available, available)
    if policy == "first":
        indices = list(range(wanted))
    elif policy == "random":
        order = list(range(available))
        _rng(seed, language).shuffle(order)
        indices = sorted(order[:wanted])
    else:
        groups: dict[Any, list[int]] = {}
        for number, row in enumerate(rows):
            if label_field not in row or row[label_field] is None:
                raise DataError(f"{where}: row {number} has no label ({label_field!r}) to stratify by")
            groups.setdefault(row[label_field], []).append(number)
        labels = sorted(groups, key=str)
        quotas = _largest_remainder(wanted, [len(groups[label]) for label in labels]) if available else []
        rng = _rng(seed, language)
        indices = []
        for label, quota in zip(labels, quotas):
            members = list(groups[label])
            rng.shuffle(members)
            indices.extend(members[:quota])
        indices.sort()
    return Shots(rows=[dict(rows[i]) for i in indices], requested=k, available=available, policy=policy,
                 indices=indices)


def _key(row: Mapping[str, Any], fields: Sequence[str], where: str, number: int) -> tuple[str, ...]:
    missing = [f for f in fields if f not in row]
    if missing:
        raise DataError(f"{where}: row {number} has no field(s) {missing}")
    return tuple(normalise_text(str(row[f] or "")) for f in fields)


def check_disjoint(rows: Sequence[Mapping[str, Any]], test_rows: Sequence[Mapping[str, Any]], fields: Sequence[str],
                   rows_where: str, test_where: str) -> None:
    """DataError if an example of ``rows`` (e.g. the shots) is also in ``test_rows``: same input
    ``fields`` after :func:`~xlt.data.near_duplicates.normalise_text` (case, punctuation, spacing)."""
    test_keys = {_key(row, fields, test_where, n): n for n, row in enumerate(test_rows)}
    keys = [_key(row, fields, rows_where, n) for n, row in enumerate(rows)]
    overlap = [(n, test_keys[key]) for n, key in enumerate(keys) if key in test_keys]
    if overlap:
        first, test_row = overlap[0]
        text = " | ".join(str(rows[first][f]) for f in fields)
        raise DataError(f"{rows_where}: {len(overlap)} example(s) also in the test set {test_where} (first: row "
                        f"{first} = test row {test_row}: {text[:120]!r}); few-shot data must not overlap the test set")
