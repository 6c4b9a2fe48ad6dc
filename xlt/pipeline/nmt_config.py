"""The ``nmt`` config group (chapter 6): the NLLB model that translates task data, how it translates, and
how it is adapted to a language it does not support (thesis §6.3.3, §6.4.2, Table D.2).

``conf/nmt/{nllb_600m,nllb_1_3b,nllb_3_3b}.yaml`` name facebook/nllb-200-distilled-600M,
nllb-200-distilled-1.3B and nllb-200-3.3B (Table 6.4); the 3.3B model is chapter 6's default. With
``name_or_path: null`` (the smoke profile) the ``tiny`` block builds a random NLLB-shaped model whose
tokenizer has the language table's codes (xlt.models.nmt.build_tiny_nmt_from_table).

- ``backend``: ``transformers`` (batched ``generate``) or ``ctranslate2`` (the model converted once,
  cached under ``paths.cache``; ``ctranslate2.*`` settings); ``generation``: decoding settings
  (xlt.translation.GenerationSettings: greedy, max length 128, batch 32 by default, as the reference);
  ``chunk_size``: segments per resumable part file (xlt.translation.translate_records).
- ``languages``: overrides of the language table (xlt/models/nllb_languages.yaml: FLORES codes, NLLB
  support, the adaptation corpus's source language).
- ``adaptation``: §6.4.2's NMT adaptation: a new language code token with its embedding row initialised
  (``init``: ``copy:spa_Latn``, ``copy:ind_Latn``, ``mean``), then full fine-tuning (``method: full``) or
  LT-SFT (``method: ltsft`` with ``density`` / ``num_trainable``) on the parallel corpus: 5 epochs,
  batch 8, lr 2e-5 decayed linearly to 0, sequences of 256 tokens, chrF (and BLEU) of greedy
  translations of the held-out pairs after every epoch, the best epoch kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.config import check_choice, check_number
from xlt.errors import ConfigError
from xlt.models.loading import DTYPES, ModelConfig
from xlt.models.nmt import TINY_NMT_SIZES, NllbLanguage, build_tiny_nmt_from_table, language_table
from xlt.schedule import Schedule
from xlt.translation.backends import GenerationSettings

BACKENDS = ("transformers", "ctranslate2")
ADAPTATION_METHODS = ("full", "ltsft")
NMT_ARCHITECTURE = "m2m_100"  # NLLB-200's (dense) model_type


def _adaptation_schedule() -> Schedule:
    return Schedule(lr=2e-5, batch_size=8, max_epochs=5)  # §6.4.2; validation once per epoch


def _adaptation_generation() -> GenerationSettings:
    return GenerationSettings(num_beams=1, max_length=256, batch_size=16)


@dataclass
class AdaptationConfig:
    """``nmt.adaptation``: adapting the NMT model to a language it lacks (§6.3.3, §6.4.2)."""

    method: str = "full"  # full fine-tuning (the thesis) or ltsft (LT-SFT over the whole NMT body)
    init: str = "mean"  # the new code's embedding row: copy:<FLORES code of a related language> or mean
    density: float | None = None  # ltsft: K as a share of the NMT body
    num_trainable: int | None = None  # ltsft: K (scaled for a tiny stand-in, as task modules are)
    train: Schedule = field(default_factory=_adaptation_schedule)
    max_length: int = 256  # tokens of each side, codes included
    metric: str = "chrf"  # chrf | bleu: selects the epoch kept
    generation: GenerationSettings = field(default_factory=_adaptation_generation)  # held-out decoding

    def validate(self, where: str) -> None:
        check_choice(self.method, f"{where}.method", ADAPTATION_METHODS)
        if self.method == "ltsft" and self.density is None and self.num_trainable is None:
            raise ConfigError(f"{where}: method ltsft needs a budget: set density or num_trainable")
        check_number(self.density, f"{where}.density", above=0, maximum=1, optional=True)
        check_number(self.num_trainable, f"{where}.num_trainable", minimum=1, integer=True, optional=True)
        check_number(self.max_length, f"{where}.max_length", minimum=4, integer=True)
        check_choice(self.metric, f"{where}.metric", ("chrf", "bleu"))
        if not (self.init == "mean" or (isinstance(self.init, str) and self.init.startswith("copy:"))):
            raise ConfigError(f"{where}.init={self.init!r}: expected 'mean' or 'copy:<code>' (e.g. copy:spa_Latn)")
        self.train.validate(f"{where}.train")
        self.generation.validate(f"{where}.generation")


@dataclass
class CTranslate2Config:
    """``nmt.ctranslate2``: CTranslate2's settings (xlt.translation.CTranslate2Translator)."""

    compute_type: str = "default"
    device: str = "auto"
    quantization: str | None = None  # weight quantization of the conversion (e.g. int8), None: as saved
    intra_threads: int = 0
    inter_threads: int = 1


@dataclass
class NmtConfig:
    name: str = "nllb"
    name_or_path: str | None = None  # hub id or local directory; null: the tiny stand-in
    revision: str | None = None
    num_parameters: int | None = None  # of the real model (scales an absolute LT-SFT budget on the tiny one)
    dtype: str = "float32"
    device: str | None = None  # null: cuda when available
    tiny: dict[str, Any] | None = None  # xlt.models.nmt.TINY_NMT_SIZES keys
    backend: str = "transformers"
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    chunk_size: int = 4096  # segments per resumable part
    ctranslate2: CTranslate2Config = field(default_factory=CTranslate2Config)
    languages: dict[str, Any] = field(default_factory=dict)  # language-table overrides
    adaptation: AdaptationConfig = field(default_factory=AdaptationConfig)

    def validate(self, where: str) -> None:
        if self.name_or_path is None and not self.tiny:
            raise ConfigError(f"{where}: set name_or_path (hub id or local path) or a tiny block")
        unknown = sorted(set(self.tiny or {}) - set(TINY_NMT_SIZES))
        if unknown:
            raise ConfigError(f"{where}.tiny: unknown key {unknown[0]!r} (known: {', '.join(sorted(TINY_NMT_SIZES))})")
        check_choice(self.backend, f"{where}.backend", BACKENDS)
        check_choice(self.dtype, f"{where}.dtype", sorted(DTYPES))
        check_number(self.chunk_size, f"{where}.chunk_size", minimum=1, integer=True)
        self.generation.validate(f"{where}.generation")
        self.table()  # the overrides, checked

    def table(self) -> dict[str, NllbLanguage]:
        return language_table(self.languages, "nmt.languages")

    def model_config(self) -> ModelConfig:
        return ModelConfig(name_or_path=self.name_or_path, revision=self.revision, architecture=NMT_ARCHITECTURE,
                           num_parameters=self.num_parameters, tiny=self.tiny, dtype=self.dtype)

    def resolve_path(self, cache_dir: str | Path, samples: list[Path]) -> str:
        """Hub id or directory to load from; builds (once, cached) the tiny model over ``samples``."""
        if self.name_or_path is not None:
            return self.name_or_path
        return str(build_tiny_nmt_from_table(samples, cache_dir, self.tiny, self.table()))
