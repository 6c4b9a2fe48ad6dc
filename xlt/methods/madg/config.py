"""MAD-G's config (``lang_module=madg|madg_ls``; §3.3, §3.4.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlt.config import check_choice, check_number
from xlt.data.blocks import MLMConfig
from xlt.data.sampling import check_subset
from xlt.errors import ConfigError
from xlt.methods.adapters.bottleneck import ACTIVATIONS
from xlt.methods.adapters.config import check_layers
from xlt.schedule import Schedule
from xlt.typology import resolve_code


@dataclass
class MadgConfig:
    """``lang_module`` method ``madg``: language adapters generated from typology (MAD-G, §3.3).

    ``languages`` are the generator's training languages (corpus codes, e.g. Wikipedia's; URIEL
    codes through ``aliases``, xlt.typology.ALIASES and ISO 639-1 -> 639-3); under the smoke profile
    the bundled ``sample_languages`` stand in for them. ``corpus`` is a data location template
    (``{lang}`` replaced). ``layer_dim`` set (32) gives MAD-G-LS (§3.3.2).

    Sequences (§3.4.3: "we first sampled 500,000 sequences from each language's Wikipedia corpus"):
    ``corpus_subset: random`` reads the articles of the whole dump in an order seeded by the run seed
    and the language and keeps the first ``max_sequences`` blocks of 256 tokens, so n_l and p(l) are
    those of the whole dump; ``first`` reads them in dump order (the first articles). ``max_articles``
    (default: none) caps the articles read: a seeded sample of that many, or the first that many.
    """

    method: str = "madg"
    languages: list[str] = field(default_factory=list)
    sample_languages: list[str] = field(default_factory=list)
    corpus: dict[str, Any] | None = None
    reduction_factor: float = 2.0  # m = h / 2 = 384 for mBERT (§3.4.3)
    language_dim: int = 32  # d_l
    layer_dim: int | None = None  # d_b: MAD-G-LS
    leave_out: list[int] = field(default_factory=list)
    non_linearity: str = "relu"
    init_std: float = 0.01  # std of the generated weights at initialisation
    max_sequences: int = 500_000  # per language (§3.4.3)
    corpus_subset: str = "random"  # random: sampled from the whole dump (§3.4.3) | first: the dump's first articles
    max_articles: int | None = None  # at most this many articles per language (a sample or the first; none: all)
    smoothing: float = 0.5  # p(l) ~ min(n_l, max_sequences)^smoothing
    aliases: dict[str, str] = field(default_factory=dict)  # config code -> URIEL code
    train: Schedule | None = None
    mlm: MLMConfig | None = None

    def validate(self, where: str) -> None:
        for name in ("languages", "sample_languages"):
            codes = getattr(self, name)
            if not isinstance(codes, list) or not all(isinstance(code, str) and code for code in codes):
                raise ConfigError(f"{where}.{name}={codes!r}: expected a list of language codes")
        check_number(self.reduction_factor, f"{where}.reduction_factor", above=0)
        check_number(self.language_dim, f"{where}.language_dim", minimum=1, integer=True)
        check_number(self.layer_dim, f"{where}.layer_dim", minimum=1, integer=True, optional=True)
        check_layers(self.leave_out, f"{where}.leave_out")
        check_choice(str(self.non_linearity).lower(), f"{where}.non_linearity", list(ACTIVATIONS))
        check_number(self.init_std, f"{where}.init_std", above=0)
        check_number(self.max_sequences, f"{where}.max_sequences", minimum=1, integer=True)
        check_number(self.smoothing, f"{where}.smoothing", minimum=0)
        for code, uriel in self.aliases.items():
            if not isinstance(uriel, str) or not uriel:
                raise ConfigError(f"{where}.aliases.{code}={uriel!r}: expected a URIEL (ISO 639-3) code")
        check_subset(self.corpus_subset, f"{where}.corpus_subset")
        check_number(self.max_articles, f"{where}.max_articles", minimum=1, integer=True, optional=True)

    def training_languages(self, use_samples: bool) -> list[str]:
        languages = self.sample_languages if use_samples and self.sample_languages else self.languages
        if not languages:
            raise ConfigError("lang_module.languages: the generator needs training languages")
        return list(dict.fromkeys(languages))

    def seen_by_generator(self, code: str, use_samples: bool) -> bool:
        """Whether ``code``'s language is one of the generator's training languages, compared by URIEL code
        (Wikipedia's ``kv`` and UD's ``kpv`` are one language, Komi-Zyrian): the rule of
        :meth:`GeneratorArtifact.generate`, so results and generated artifacts agree."""
        trained = {resolve_code(lang, self.aliases) for lang in self.training_languages(use_samples)}
        return resolve_code(code, self.aliases) in trained
