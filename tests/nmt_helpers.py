"""Tiny NLLB-shaped models for the chapter-6 tests (built once per cache, xlt.models.nmt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xlt.data.synthetic import SAMPLES_DIR

# the sources and the NLLB-supported AmericasNLI / NusaX languages (Table 6.1 without a dagger)
TINY_CODES = ["eng_Latn", "spa_Latn", "ind_Latn", "ayr_Latn", "grn_Latn", "quy_Latn", "ace_Latn", "jav_Latn"]
TINY_CORPORA = ["en", "es", "ind", "aym", "gn", "quy", "ace", "jav", "bzd", "mad"]


def corpora() -> list[Path]:
    return [SAMPLES_DIR / "corpora" / f"{lang}.txt" for lang in TINY_CORPORA]


def tiny_nmt(cache_dir: Path, **sizes: Any) -> Path:
    from xlt.models.nmt import build_tiny_nmt

    return build_tiny_nmt(corpora(), TINY_CODES, cache_dir, sizes)


def corpus_lines(lang: str, count: int | None = None) -> list[str]:
    lines = [line.strip() for line in (SAMPLES_DIR / "corpora" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    return lines[:count] if count is not None else lines
