"""URIEL vectors read from lang2vec's data, ISO codes, similarity and the closest-language choice."""

from __future__ import annotations

import numpy as np
import pytest

from xlt.errors import ConfigError, DataError
from xlt.typology import (
    NUM_FEATURES,
    closest_language,
    cosine_similarity,
    language_similarity,
    load_uriel,
    resolve_code,
    uriel_vector,
)


def test_vectors_have_the_289_binary_features_of_madg():
    table = load_uriel()
    names = table.feature_names
    assert len(names) == NUM_FEATURES == 289
    assert [sum(n.startswith(p) for n in names) for p in ("S_", "P_", "INV_")] == [103, 28, 158]
    assert names[:103] == tuple(n for n in names if n.startswith("S_"))  # syntax, phonology, inventory order
    vector = uriel_vector("eng")
    assert vector.shape == (289,) and set(np.unique(vector)) <= {0.0, 1.0}
    assert vector[names.index("S_SVO")] == 1.0 and vector[names.index("S_SOV")] == 0.0  # English is SVO
    assert uriel_vector("tur")[names.index("S_SOV")] == 1.0  # Turkish is SOV


def test_codes_two_letter_alias_and_unknown():
    assert resolve_code("en") == "eng" and resolve_code("gn") == "grn" and resolve_code("quy") == "quy"
    assert resolve_code("nah") == "nci" and resolve_code("oto") == "ote"  # built-in aliases
    assert resolve_code("nah", {"nah": "nhe"}) == "nhe"
    # Wikipedia codes of macrolanguages: the language their wiki is written in (one code per language)
    assert resolve_code("kv") == resolve_code("kpv") == "kpv" != resolve_code("koi")  # Komi-Zyrian, not Permyak
    assert resolve_code("qu") == resolve_code("quy") == "quy"
    assert np.array_equal(uriel_vector("en"), uriel_vector("eng"))
    with pytest.raises(ConfigError, match="language 'zzq' has no URIEL vector") as error:
        uriel_vector("zzq")
    assert "\n" not in str(error.value)


def test_cosine_similarity_hand_computed():
    a, b = np.array([1.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0])
    assert cosine_similarity(a, b) == pytest.approx(0.5)  # 1 / (sqrt 2 * sqrt 2)
    assert cosine_similarity(a, np.zeros(4)) == 0.0
    assert language_similarity("deu", "deu") == pytest.approx(1.0)
    assert language_similarity("en", "deu") == pytest.approx(
        cosine_similarity(uriel_vector("eng"), uriel_vector("deu")))


def test_closest_language_on_a_hand_made_example():
    vectors = {"target": np.array([1, 1, 1, 0, 0, 0]), "near": np.array([1, 1, 0, 0, 0, 0]),
               "far": np.array([0, 0, 0, 1, 1, 0]), "mid": np.array([1, 0, 0, 1, 0, 0])}
    # cosines: near 2/sqrt(6) = 0.816, mid 1/sqrt(6) = 0.408, far 0
    assert closest_language("target", ["far", "mid", "near"], vectors) == "near"
    assert closest_language("target", ["far", "mid"], vectors) == "mid"
    tie = {"t": np.array([1, 1]), "a": np.array([1, 0]), "b": np.array([0, 1])}
    assert closest_language("t", ["b", "a"], tie) == "b"  # ties: the earlier candidate
    with pytest.raises(ConfigError, match="no candidate"):
        closest_language("t", [], tie)


def test_missing_uriel_data_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="feature_predictions.npz: URIEL feature file not found"):
        load_uriel(str(tmp_path))
