"""Where xlt's bundled files live (a leaf module: every layer may import it)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLES_DIR = PACKAGE_DIR / "data" / "samples"  # small files in the real datasets' formats (xlt.data.synthetic)
SAMPLE_CORPORA_DIR = SAMPLES_DIR / "corpora"  # plain-text corpora; tiny models train their tokenizers on them
