"""URIEL typological vectors (Littell et al., 2017), the input of MAD-G (thesis §3.3.1).

A language's vector t_l holds the 289 binary features MAD-G conditions on: 103 syntactic,
28 phonological and 158 phonetic-inventory features, i.e. lang2vec's feature sets
``syntax_knn+phonology_knn+inventory_knn`` (kNN-imputed, so no value is missing). We read the
``feature_predictions.npz`` file that the ``lang2vec`` package ships directly: importing lang2vec
needs ``pkg_resources``, which recent setuptools no longer provides.

Codes are ISO 639-3 (``eng``, ``quy``). Two-letter ISO 639-1 codes (``en``, ``gn``) map through
lang2vec's own ``letter_codes.json``; :data:`ALIASES` (which callers can extend) maps the codes whose
ISO reading is not the language meant: collective codes URIEL lacks (Nahuatl ``nah``) and Wikipedia
codes of macrolanguages whose wiki is written in one member language (``kv``, ``qu``). The rule: one
language resolves to one URIEL code whichever side names it, a generator's training corpus (a
Wikipedia code) or a target data set (a UD / MasakhaNER / AmericasNLI code), so "seen by the MAD-G
generator" (§3.4.1, Table 3.1) compares like with like. ``tests/test_language_codes.py`` lists the
resolution of every training and target code of chapter 3.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from xlt.errors import ConfigError, DataError

FEATURE_SETS = ("syntax_knn", "phonology_knn", "inventory_knn")
PREFIXES = {"syntax_knn": "S_", "phonology_knn": "P_", "inventory_knn": "INV_"}
NUM_FEATURES = 289  # 103 + 28 + 158 (§3.3.1)

# Config codes (Wikipedia's, data sets') whose plain ISO reading is not the URIEL language we use for them.
# Our choices (override per experiment where a corpus is of another variety):
ALIASES: dict[str, str] = {
    # Komi Wikipedia: ISO 639-1 kv is the macrolanguage kom (Komi-Zyrian + Komi-Permyak koi), but the wiki is
    # written in Komi-Zyrian, UD's kpv, which Table A.2 counts as MAD-G-seen through it. URIEL has both kom and
    # kpv (each with WALS and PHOIBLE data; cosine 0.977): kpv, the language itself, keeps koi (Komi-Permyak,
    # Table A.2's unseen MAD-G-genus) apart from the training language.
    "kv": "kpv",
    # Quechua Wikipedia: ISO 639-1 qu is the macrolanguage que; the thesis trains AmericasNLI's Quechua, quy
    # (Ayacucho), on it (Table B.1: "Agic and Vulic (2019); Wikipedia"), so it is quy here too.
    "qu": "quy",
    "nah": "nci",  # Nahuatl (collective; Wikipedia's nah and AmericasNLI's nah) -> Classical Nahuatl
    "oto": "ote",  # Otomi (collective; AmericasNLI) -> Mezquital Otomi
}


def uriel_dir() -> Path:
    """The lang2vec data directory (``XLT_URIEL_DIR`` overrides), found without importing lang2vec."""
    override = os.environ.get("XLT_URIEL_DIR")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("lang2vec")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("URIEL data not found: install lang2vec (pip install lang2vec) or set XLT_URIEL_DIR")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@dataclass
class UrielTable:
    """The 289-dimensional vectors of every URIEL language, indexed by ISO 639-3 code."""

    codes: tuple[str, ...]
    vectors: np.ndarray  # (languages, 289) float32 of 0/1
    feature_names: tuple[str, ...]
    letter_codes: Mapping[str, str] = field(default_factory=dict)
    positions: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.positions = {code: i for i, code in enumerate(self.codes)}


@lru_cache(maxsize=4)
def load_uriel(directory: str | None = None) -> UrielTable:
    """Read ``feature_predictions.npz`` (+ ``letter_codes.json``) from the lang2vec data directory."""
    root = Path(directory) if directory else uriel_dir()
    path = root / "feature_predictions.npz"
    if not path.is_file():
        raise DataError(f"{path}: URIEL feature file not found (is lang2vec installed?)")
    try:
        data = np.load(path, allow_pickle=False)
        features = [str(f) for f in data["feats"]]
        values = data["data"]
        codes = tuple(str(c) for c in data["langs"])
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"{path}: not a readable URIEL feature file ({error})") from None
    columns = [i for prefix in (PREFIXES[s] for s in FEATURE_SETS) for i, f in enumerate(features)
               if f.startswith(prefix)]
    if len(columns) != NUM_FEATURES or values.ndim != 3:
        raise DataError(f"{path}: expected {NUM_FEATURES} syntax/phonology/inventory features, found {len(columns)}")
    vectors = np.ascontiguousarray(values[:, columns, 0], dtype=np.float32)
    letters_path = root / "letter_codes.json"
    letter_codes = json.loads(letters_path.read_text()) if letters_path.is_file() else {}
    return UrielTable(codes, vectors, tuple(features[i] for i in columns), letter_codes)


def resolve_code(code: str, aliases: Mapping[str, str] | None = None, table: UrielTable | None = None) -> str:
    """The URIEL (ISO 639-3) code for a config code: aliases first, then ISO 639-1 -> 639-3."""
    table = table or load_uriel()
    merged = {**ALIASES, **(aliases or {})}
    resolved = merged.get(code, code)
    resolved = table.letter_codes.get(resolved, resolved)
    if resolved not in table.positions:
        hint = f" (via {resolved!r})" if resolved != code else ""
        raise ConfigError(f"language {code!r}{hint} has no URIEL vector: give an ISO 639-3 code that URIEL "
                          "knows, or map it with an alias (e.g. typology aliases {" + f"{code}: <iso639-3>" + "})")
    return resolved


def uriel_vector(code: str, aliases: Mapping[str, str] | None = None, table: UrielTable | None = None) -> np.ndarray:
    """t_l: the 289 binary typological features of a language (§3.3.1)."""
    table = table or load_uriel()
    return table.vectors[table.positions[resolve_code(code, aliases, table)]].copy()


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norm if norm else 0.0


def language_similarity(a: str, b: str, aliases: Mapping[str, str] | None = None) -> float:
    """Cosine similarity of two languages' URIEL vectors."""
    return cosine_similarity(uriel_vector(a, aliases), uriel_vector(b, aliases))


def closest_language(target: str, candidates: Iterable[str], vectors: Mapping[str, np.ndarray] | None = None,
                     aliases: Mapping[str, str] | None = None) -> str:
    """The candidate whose URIEL vector has the largest cosine similarity to the target's (the MAD-X
    fallback when a target has no language adapter, §3.4.2). Ties go to the earlier candidate.
    ``vectors`` may supply the vectors directly (by code) instead of looking them up."""
    candidates = list(dict.fromkeys(candidates))
    if not candidates:
        raise ConfigError(f"no candidate languages to choose the closest to {target!r} from")

    def vector(code: str) -> np.ndarray:
        if vectors is not None and code in vectors:
            return np.asarray(vectors[code], dtype=np.float64)
        return uriel_vector(code, aliases).astype(np.float64)

    goal = vector(target)
    best, best_score = candidates[0], -math.inf
    for code in candidates:
        score = cosine_similarity(goal, vector(code))
        if score > best_score:
            best, best_score = code, score
    return best
