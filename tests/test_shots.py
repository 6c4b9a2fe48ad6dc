"""Few-shot sampling (xlt.data.shots, thesis §6.4.3): seeded, stratified, clipped, disjoint from test."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from xlt.data.shots import check_disjoint, sample_shots
from xlt.errors import ConfigError, DataError


def split(size: int, shares: dict[str, float] | None = None) -> list[dict]:
    shares = shares or {"entailment": 1 / 3, "neutral": 1 / 3, "contradiction": 1 / 3}
    labels = [label for label, share in shares.items() for _ in range(round(share * size))]
    labels = (labels + labels)[:size]
    return [{"id": f"dev{i}", "premise": f"Premisa {i} kemaka .", "hypothesis": f"Hipotesis {i} .", "label": label}
            for i, label in enumerate(labels)]


def test_random_shots_are_seeded_per_seed_and_language_and_nested():
    rows = split(743)
    a = sample_shots(rows, 100, "random", seed=1, language="aym")
    assert a.taken == 100 and not a.clipped and a.available == 743
    assert a.rows == sample_shots(rows, 100, "random", seed=1, language="aym").rows  # reproducible
    assert a.indices != sample_shots(rows, 100, "random", seed=2, language="aym").indices
    assert a.indices != sample_shots(rows, 100, "random", seed=1, language="gn").indices
    assert a.indices == sorted(a.indices) and len(set(a.indices)) == 100
    assert a.rows == [rows[i] for i in a.indices] and a.rows[0] is not rows[a.indices[0]]
    small = sample_shots(rows, 20, "random", seed=1, language="aym")
    large = sample_shots(rows, 500, "random", seed=1, language="aym")
    assert set(small.indices) <= set(a.indices) <= set(large.indices)
    assert a.indices != list(range(100))  # not the first rows


def test_stratified_shots_are_proportional_and_exact():
    rows = split(600, {"positive": 0.5, "negative": 0.3, "neutral": 0.2})
    shots = sample_shots(rows, 20, "stratified", seed=0, language="ace")
    assert shots.taken == 20 and Counter(r["label"] for r in shots.rows) == {"positive": 10, "negative": 6,
                                                                             "neutral": 4}
    odd = sample_shots(split(9), 7, "stratified", seed=0, language="bzd")  # 7 = 3 + 2 + 2 by largest remainders
    assert odd.taken == 7 and sorted(Counter(r["label"] for r in odd.rows).values()) == [2, 2, 3]
    assert shots.rows == sample_shots(rows, 20, "stratified", seed=0, language="ace").rows
    with pytest.raises(DataError, match=r"data.shots: row 0 has no label"):
        sample_shots([{"text": "a"}], 1, "stratified", where="data.shots")


def test_first_shots_are_the_reference_codes_choice():
    rows = split(30)
    assert sample_shots(rows, 5, "first", seed=7).rows == rows[:5]


def test_shots_are_clipped_to_what_exists_with_a_note(caplog):
    rows = split(223)  # NAH's validation split (§6.4.3, footnote 2)
    with caplog.at_level(logging.WARNING, logger="xlt.data.shots"):
        shots = sample_shots(rows, 500, "random", seed=0, language="nah", where="data.shots")
    assert shots.taken == 223 and shots.requested == 500 and shots.clipped
    assert "500 shots requested but only 223" in caplog.text and "nah" in caplog.text
    assert sorted(shots.indices) == list(range(223))
    assert sample_shots(rows, 500, "stratified", language="nah").taken == 223
    assert sample_shots(rows, 0, "random").taken == 0


def test_bad_shot_configs():
    with pytest.raises(ConfigError, match=r"data.shots.policy='top'"):
        sample_shots(split(3), 1, "top", where="data.shots")
    with pytest.raises(ConfigError, match=r"data.shots.k=-1"):
        sample_shots(split(3), -1, where="data.shots")


def test_shots_must_not_overlap_the_test_set():
    shots = sample_shots(split(60), 10, "random", language="quy").rows
    test = [{"premise": "Otra premisa .", "hypothesis": "Otra hipotesis .", "label": "neutral"}]
    check_disjoint(shots, test, ["premise", "hypothesis"], "quy/dev.tsv", "quy/test.tsv")  # disjoint: fine
    leaked = {**shots[3], "premise": "  " + shots[3]["premise"].upper().replace(" .", "!"), "label": "other"}
    with pytest.raises(DataError, match=r"quy/dev.tsv: 1 example\(s\) also in the test set quy/test.tsv"):
        check_disjoint(shots, [*test, leaked], ["premise", "hypothesis"], "quy/dev.tsv", "quy/test.tsv")
    # the same premise with another hypothesis is another example
    check_disjoint(shots, [{**shots[3], "hypothesis": "Distinta ."}], ["premise", "hypothesis"], "a", "b")
    with pytest.raises(DataError, match=r"quy/test.tsv: row 0 has no field\(s\) \['hypothesis'\]"):
        check_disjoint(shots, [{"premise": "x"}], ["premise", "hypothesis"], "quy/dev.tsv", "quy/test.tsv")
