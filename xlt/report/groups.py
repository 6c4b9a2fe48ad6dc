"""Chapter 3's language groups, computed from a MAD-G run's results (thesis §3.4.1, §3.5.1).

Table 3.1: a target is **mBERT-seen** when it is one of mBERT's 104 pretraining languages
(``mbert_languages.tsv``), else **MAD-G-seen** when the generator trained on it (``results.json``:
``typology.<lang>.seen_by_generator``, which compares URIEL codes), else **unseen**. Table 3.4 splits the
unseen languages by genus (``genera.tsv``: Tables A.1 and A.2, WALS for the rest): **mBERT-genus** when a
pretraining language of mBERT shares its genus, else **MAD-G-genus** when a training language of the
generator does (the run's ``lang_module.languages``, or ``sample_languages`` under ``data.use_samples``),
else **unseen-genus**. With the thesis's generator languages (Table A.1) this reproduces Table A.2's
column for all 95 UD languages (56 / 6 / 33; 21 / 4 / 8: tests/test_report.py).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from xlt.errors import DataError

HERE = Path(__file__).parent
MBERT_FILE = HERE / "mbert_languages.tsv"
GENERA_FILE = HERE / "genera.tsv"

MBERT_SEEN, MADG_SEEN, UNSEEN = "mBERT-seen", "MAD-G-seen", "unseen"
MBERT_GENUS, MADG_GENUS, UNSEEN_GENUS = "mBERT-genus", "MAD-G-genus", "unseen-genus"
GROUPS = (MBERT_SEEN, MADG_SEEN, UNSEEN)
SUBGROUPS = (MBERT_GENUS, MADG_GENUS, UNSEEN_GENUS)
DEFINITIONS = {  # Table 3.1 and §3.5.1
    MBERT_SEEN: "seen during mBERT pre-training",
    MADG_SEEN: "seen only during MAD-G training",
    UNSEEN: "completely unseen",
    MBERT_GENUS: "unseen; its genus is seen during mBERT pre-training",
    MADG_GENUS: "unseen; its genus is seen only during MAD-G training",
    UNSEEN_GENUS: "unseen; its genus is completely unseen",
}


@dataclass(frozen=True)
class Genus:
    family: str
    genus: str  # "-" where the family has no genus level: the family is the genus

    @property
    def key(self) -> tuple[str, str]:
        return self.family, self.family if self.genus in ("", "-") else self.genus

    def __str__(self) -> str:
        return self.family if self.genus in ("", "-") else f"{self.family}/{self.genus}"


@dataclass(frozen=True)
class LanguageGroup:
    language: str
    group: str  # GROUPS
    subgroup: str | None  # SUBGROUPS for unseen languages; None when seen or not decidable
    genus: Genus | None


def _read_tsv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    if not rows or list(rows[0]) != list(columns):
        raise DataError(f"{path}: expected the columns {', '.join(columns)}")
    for number, row in enumerate(rows, start=2):
        if any(not row.get(column) for column in columns):
            raise DataError(f"{path}: data line {number - 1}: every column needs a value")
    return rows


@lru_cache(maxsize=1)
def mbert_languages() -> frozenset[str]:
    """mBERT's pretraining languages: their Wikipedia codes and their URIEL (ISO 639-3) codes."""
    rows = _read_tsv(MBERT_FILE, ("wiki", "iso639_3", "name"))
    return frozenset(code for row in rows for code in (row["wiki"], row["iso639_3"]))


@lru_cache(maxsize=1)
def genera() -> dict[str, Genus]:
    """Code (as configs write it, and ISO 639-3) -> genus."""
    table: dict[str, Genus] = {}
    for row in _read_tsv(GENERA_FILE, ("code", "iso639_3", "name", "family", "genus", "source")):
        genus = Genus(row["family"], row["genus"])
        table[row["code"]] = genus
        table.setdefault(row["iso639_3"], genus)
    return table


def genus_of(code: str, uriel: str | None = None) -> Genus | None:
    table = genera()
    return table.get(code) or (table.get(uriel) if uriel else None)


def is_mbert_language(code: str, uriel: str | None = None) -> bool:
    languages = mbert_languages()
    return code in languages or (uriel is not None and uriel in languages)


def generator_languages(results: Mapping[str, Any], config: Mapping[str, Any]) -> list[str] | None:
    """The MAD-G generator's training languages of a run: ``results.generator_languages`` when recorded,
    else the run config's ``lang_module.languages`` (``sample_languages`` when ``data.use_samples``); None
    when the run has no MAD-G language module config."""
    recorded = results.get("generator_languages")
    if isinstance(recorded, list):
        return [str(code) for code in recorded]
    module = config.get("lang_module") or {}
    if not isinstance(module, Mapping) or module.get("method") != "madg":
        return None
    use_samples = bool((config.get("data") or {}).get("use_samples"))
    languages = module.get("sample_languages") if use_samples and module.get("sample_languages") else \
        module.get("languages")
    return [str(code) for code in languages] if isinstance(languages, list) and languages else None


def classify(typology: Mapping[str, Mapping[str, Any]], generator: Iterable[str] | None) -> dict[str, LanguageGroup]:
    """Each language of ``typology`` (results.json's: ``{lang: {uriel, seen_by_generator}}``) with its group
    and, when unseen, its genus subgroup. ``generator``: the generator's training languages (None: unknown,
    so MAD-G-genus and unseen-genus cannot be told apart and unseen languages outside an mBERT genus get no
    subgroup)."""
    mbert_genera = {genus.key for code in mbert_languages() if (genus := genus_of(code)) is not None}
    generator_genera = None if generator is None else \
        {genus.key for code in generator if (genus := genus_of(code)) is not None}
    groups: dict[str, LanguageGroup] = {}
    for lang, info in typology.items():
        uriel = info.get("uriel")
        genus = genus_of(lang, uriel)
        if is_mbert_language(lang, uriel):
            groups[lang] = LanguageGroup(lang, MBERT_SEEN, None, genus)
            continue
        if info.get("seen_by_generator"):
            groups[lang] = LanguageGroup(lang, MADG_SEEN, None, genus)
            continue
        subgroup = None
        if genus is not None and genus.key in mbert_genera:
            subgroup = MBERT_GENUS
        elif genus is not None and generator_genera is not None:
            subgroup = MADG_GENUS if genus.key in generator_genera else UNSEEN_GENUS
        groups[lang] = LanguageGroup(lang, UNSEEN, subgroup, genus)
    return groups
