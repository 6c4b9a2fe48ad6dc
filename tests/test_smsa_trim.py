"""SMSA trimming: training examples that are NusaX test sentences, original or modified (Table 6.1 note)."""

from __future__ import annotations

import random
import time

import pytest

from xlt.data.near_duplicates import levenshtein, normalise_text, similarity, trim_near_duplicates
from xlt.errors import DataError


def reference_levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def test_levenshtein_matches_the_textbook_recurrence():
    rng = random.Random(0)
    for _ in range(500):
        a = "".join(rng.choice("ab c") for _ in range(rng.randint(0, 25)))
        b = "".join(rng.choice("ab c") for _ in range(rng.randint(0, 90)))  # over 64 characters too
        assert levenshtein(a, b) == reference_levenshtein(a, b) == levenshtein(b, a)
    assert levenshtein("kitten", "sitting") == 3 and similarity("abcd", "abcd") == 1.0


def test_normalise_text():
    assert normalise_text("  Makanannya ENAK,   banget!!! ") == "makanannya enak banget"
    assert normalise_text("ｍａｋａｎ\u00a0enak 😀") == "makan enak"  # NFKC width folding, symbols dropped
    assert normalise_text("Ẹ̀nak") == normalise_text("Ẹ̀nak".upper())


TRAIN = [
    {"id": "s0", "text": "Tempat nya nyaman dan makanan nya enak sekali, pelayanan juga ramah.", "label": "positive"},
    {"id": "s1", "text": "Pelayanan di hotel ini sangat buruk dan kamarnya kotor sekali.", "label": "negative"},
    {"id": "s2", "text": "Saya kecewa dengan produk ini karena cepat rusak setelah dua hari dipakai.",
     "label": "negative"},
    {"id": "s3", "text": "Harga tiket pesawat naik menjelang liburan akhir tahun.", "label": "neutral"},
    {"id": "s4", "text": "Film nya bagus banget, alur ceritanya seru dan tidak membosankan.", "label": "positive"},
]
TEST = [
    "pelayanan di hotel ini sangat buruk dan kamarnya kotor sekali",  # s1: case and punctuation only
    "Saya kecewa dengan produk ini karena cepat rusak setelah tiga hari dipakai.",  # s2: one word changed
    "Harga bensin naik lagi bulan ini, rakyat kecil makin susah.",  # no counterpart in the training data
]


def test_trimming_removes_exact_and_modified_duplicates_only():
    kept, report = trim_near_duplicates(TRAIN, TEST, test_ids=["ind/test.csv:1", "ind/test.csv:2", "ind/test.csv:3"])
    assert [row["id"] for row in kept] == ["s0", "s3", "s4"]  # input order, columns intact
    assert kept[0] == TRAIN[0] and kept[0] is not TRAIN[0]
    assert (report.removed, report.exact, report.near, report.unmatched_tests) == (2, 1, 1, 1)
    exact, near = report.examples
    assert (exact.train_index, exact.test_index, exact.similarity, exact.test_id) == (1, 0, 1.0, "ind/test.csv:1")
    assert (near.train_index, near.test_index, near.test_id) == (2, 1, "ind/test.csv:2")
    assert 0.85 <= near.similarity < 1.0
    assert near.train_text == TRAIN[2]["text"] and near.test_text == TEST[1]
    # the reference rule (drop every test sentence's nearest neighbour, no threshold) would also drop
    # the unrelated example nearest to the third test sentence; ours reports it and keeps it
    unrelated = report.nearest[2]
    assert unrelated.train_index == 3 and not unrelated.removed and unrelated.similarity < 0.5
    assert [n.removed for n in report.nearest] == [True, True, False]
    assert report.as_dict()["examples"][0]["train_index"] == 1


def test_threshold_decides_modified_duplicates():
    modified = "Film nya bagus sekali, alur cerita nya seru dan tidak membosankan"  # s4, a few edits
    score = similarity(normalise_text(TRAIN[4]["text"]), normalise_text(modified))
    assert 0.85 < score < 0.95
    assert trim_near_duplicates(TRAIN, [modified])[1].removed == 1
    assert trim_near_duplicates(TRAIN, [modified], threshold=0.95)[1].removed == 0
    assert trim_near_duplicates(TRAIN, [modified], threshold=1.0)[1].removed == 0


def test_every_training_duplicate_goes_and_each_is_reported_once():
    train = [*TRAIN, {"id": "s1-again", "text": "Pelayanan di hotel ini sangat buruk, dan kamarnya kotor sekali!",
                      "label": "negative"}]
    kept, report = trim_near_duplicates(train, [TEST[0], TEST[0].upper()])
    assert [row["id"] for row in kept] == ["s0", "s2", "s3", "s4"]
    assert sorted(e.train_index for e in report.examples) == [1, 5]


def test_bad_rows_name_the_file():
    with pytest.raises(DataError, match=r"smsa/train.tsv: row 1 has no text field 'text'"):
        trim_near_duplicates([{"text": "a"}, {"sentence": "b"}], ["a"], where="smsa/train.tsv")


def test_trimming_is_fast_at_smsa_scale():
    """11k training sentences against 400 test sentences (SMSA vs NusaX's test set) in seconds."""
    rng = random.Random(0)
    syllables = [a + b for a in "bcdfghjklmnprstwy" for b in "aiueo"]
    vocabulary = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(8000)})
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf: frequent words shared by all

    def sentence() -> str:
        return " ".join(rng.choices(vocabulary, weights, k=rng.randint(4, 45))) + " ."

    train = [{"text": sentence()} for _ in range(11_000)]
    picked = rng.sample(range(len(train)), 300)
    tests = [train[i]["text"].upper() for i in picked] + [sentence() for _ in range(100)]
    started = time.perf_counter()
    kept, report = trim_near_duplicates(train, tests)
    assert time.perf_counter() - started < 60
    assert report.exact >= 300 and len(kept) == len(train) - report.removed
