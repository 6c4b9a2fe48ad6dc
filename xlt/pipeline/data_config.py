"""The ``data`` config group: source task data (one source or a mixture), target languages,
and language corpora.

Locations are written once as templates: ``{lang}`` stands for the language code and ``{name}``
for ``languages.<lang>.vars.name``; ``languages.<lang>`` also deep-merges per-language overrides
(``corpus``, ``target``) into the templates, and ``language_module: false`` marks a language that
has no language module (e.g. no usable corpus)::

    targets: [bxr, mt]
    target:
      test: {path: "${paths.data}/ud-treebanks-v2.7/{ud_dir}/{treebank}-ud-test.conllu",
             sample: {path: "ud/{ud_dir}/{treebank}-ud-test.conllu"}}
    corpus: {hub: wikimedia/wikipedia, name: "20231101.{wiki}", split: train, sample: {path: "corpora/{lang}.txt"}}
    languages:
      bxr: {vars: {treebank: bxr_bdt, ud_dir: UD_Buryat-BDT, wiki: bxr}}

Source data is either ``source: {lang, train, validation}`` (one language) or a multi-source
mixture (§3.3.3, §4.4.4)::

    sources:                      # one entry per source language; {} takes every default
      en: {}
      et: {upsampling: 2}
    source_defaults:              # under every entry (an entry's own train/validation/... replace these)
      train: {...}                # a location, or a list of locations (concatenated)
      validation: {...}
      max_train_examples: 15000   # N examples of the source's train locations (together)
      subset: first               # which N: the first (the reference code's, chapter 4) or random
    sampling: {policy: shuffle}   # or smoothed: p(l) ~ min(n_l, cap)^alpha

``subset: random`` draws the ``max_train_examples`` / ``max_validation_examples`` rows as a seeded
sample of all the rows (seeded by the run seed, the language and the split: xlt.data.sampling), as
chapter 3 does ("we sample 12,000 sentences", §3.4.3; ``conf/data/ud_madg.yaml``); ``first`` (the
default) takes the first N, as the reference code of chapter 4 does.

A one-entry ``sources`` is a single source with a cap (``max_train_examples``). Under the smoke
profile ``sample_targets`` (if set) keeps only the targets that have bundled samples.

An entry's keys are exactly train, validation, upsampling, max_train_examples,
max_validation_examples, subset and language_module; anything else is an error (the reference code
silently ignored a misplaced key and trained Estonian without its language SFT).

Chapter 6 (recipe ``holistic``, docs/holistic_transfer.md) reads three more things, all optional:
``target.shots`` (a target's labelled split(s) that few-shot examples are drawn from: AmericasNLI's dev
split, NusaX's train + validation), ``parallel: {train, validation}`` (the parallel corpus an NMT model
is adapted on for a language it lacks, Table D.2; columns ``source`` = the adaptation source language,
``target`` = the language) and ``trim: {test, threshold, text_field}`` (the test set whose sentences are
removed, originally or lightly modified, from the source training data: SMSA vs NusaX, Table 6.1).
Recipes add sources of their own to a mixture (gold shots, translated data): such a
:class:`SourceSpec` has a ``name`` of its own (``aym_shots``) and may read files that a stage produces
(:class:`~xlt.pipeline.produced.ProducedData`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from xlt.config import parse, to_plain
from xlt.data.locations import DataLocation, effective, local_files, parse_location
from xlt.data.mixture import SamplingConfig
from xlt.data.sampling import check_subset
from xlt.errors import ConfigError, DataError

ENTRY_KEYS = ("train", "validation", "upsampling", "max_train_examples", "max_validation_examples", "subset",
              "language_module")
LANGUAGE_KEYS = ("corpus", "target", "vars", "language_module", "parallel")
TARGET_SPLITS = ("test", "validation", "shots")
PARALLEL_SPLITS = ("train", "validation")
TRIM_KEYS = ("test", "threshold", "text_field")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class SourceSpec:
    """One source language of the task data (resolved: templates filled, samples substituted)."""

    lang: str
    train: list[DataLocation]
    validation: list[DataLocation]
    upsampling: int = 1
    max_train_examples: int | None = None
    max_validation_examples: int | None = None
    subset: str = "first"  # which max_*_examples rows: first | random (seeded by run seed, language, split)
    language_module: bool = True
    # A recipe's own sources (chapter 6): the source's name in the mixture when it is not its language
    # (``aym_shots``, ``aym_translated``: batches of the language ``lang``, with its language module);
    # train/validation may then hold ProducedData (files a stage writes) besides DataLocations.
    name: str | None = None

    @property
    def key(self) -> str:
        """The source's name in the mixture (its language unless it has a name of its own)."""
        return self.name or self.lang


@dataclass
class DataConfig:
    name: str
    source: dict[str, Any] | None = None  # one source: {lang, train, validation}
    sources: dict[str, Any] | None = None  # a mixture: {lang: entry}
    source_defaults: dict[str, Any] = field(default_factory=dict)  # keys every mixture entry lacks
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    targets: list[str] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)  # {test: location, validation: ..., shots: ...}
    corpus: dict[str, Any] | None = None  # template of language-module corpora
    languages: dict[str, Any] = field(default_factory=dict)  # per-language overrides and vars
    # languages whose modules are validated on 1% of the corpus every 5,000 steps (§4.4.2; the rest: 5%,
    # every 1,000): the sources and the Table 4.1 daggers
    high_resource: list[str] = field(default_factory=list)
    use_samples: bool = False  # read each location's bundled ``sample`` instead (smoke profile)
    samples_dir: str | None = None  # default: the samples bundled with xlt
    # Under use_samples only: the targets that have bundled samples (null: all of them). The other targets
    # of ``targets`` are left out, so a thesis-size target list (95 UD languages) smoke-tests on a few.
    sample_targets: list[str] | None = None
    # chapter 6: the parallel corpus an NMT model is adapted on ({train, validation}: location templates)
    parallel: dict[str, Any] | None = None
    # chapter 6: {test: location, threshold: 0.85, text_field: text}: remove the training rows of the source
    # that match a sentence of ``test`` (xlt.data.near_duplicates; the holistic recipe's trim stage)
    trim: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.use_samples and self.sample_targets is not None:
            kept = [lang for lang in self.targets if lang in self.sample_targets]
            if self.targets and not kept:
                raise ConfigError(f"data.targets={self.targets}: none has bundled samples "
                                  f"(data.sample_targets={self.sample_targets})")
            self.targets = kept
        if self.source and self.sources:
            raise ConfigError("data: give source (one language) or sources (a mixture), not both")
        if not self.source and not self.sources:
            raise ConfigError("data: no source data (set data.source or data.sources)")
        if self.source:
            unknown = set(self.source) - {"lang", "train", "validation"}
            if unknown:
                raise ConfigError(f"data.source: unknown key {sorted(unknown)[0]!r} (known: lang, train, validation)")
            if "lang" not in self.source or "train" not in self.source:
                raise ConfigError("data.source: needs lang and train")
        self._check_entry(self.source_defaults, "data.source_defaults")
        for lang, entry in (self.sources or {}).items():
            self._check_entry(entry or {}, f"data.sources.{lang}")
        for lang, override in self.languages.items():
            unknown = set(override or {}) - set(LANGUAGE_KEYS)
            if unknown:
                raise ConfigError(f"data.languages.{lang}: unknown key {sorted(unknown)[0]!r} "
                                  f"(known: {', '.join(LANGUAGE_KEYS)})")
        for split in self.target:
            if split not in TARGET_SPLITS:
                raise ConfigError(f"data.target: unknown split {split!r} (known: {', '.join(TARGET_SPLITS)})")
        for split in self.parallel or {}:
            if split not in PARALLEL_SPLITS:
                raise ConfigError(f"data.parallel: unknown split {split!r} (known: {', '.join(PARALLEL_SPLITS)})")
        if self.trim is not None:
            unknown = sorted(set(self.trim) - set(TRIM_KEYS))
            if unknown:
                raise ConfigError(f"data.trim: unknown key {unknown[0]!r} (known: {', '.join(TRIM_KEYS)})")
            if "test" not in self.trim:
                raise ConfigError("data.trim: needs test (the location whose sentences are removed from the source)")

    @staticmethod
    def _check_entry(entry: Any, where: str) -> None:
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping of {', '.join(ENTRY_KEYS)}")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(ENTRY_KEYS)})")
        upsampling = entry.get("upsampling", 1)
        if not isinstance(upsampling, int) or upsampling < 1:
            raise ConfigError(f"{where}.upsampling={upsampling!r}: must be an integer >= 1")
        check_subset(entry.get("subset", "first"), f"{where}.subset")

    # ------------------------------------------------------------------ sources
    @property
    def source_langs(self) -> list[str]:
        return [str(self.source["lang"])] if self.source else [str(lang) for lang in self.sources or {}]

    @property
    def source_lang(self) -> str:
        """The (first) source language."""
        return self.source_langs[0]

    @property
    def is_multisource(self) -> bool:
        return len(self.source_langs) > 1

    def mixture(self) -> list[SourceSpec]:
        """Every source language, resolved (one entry for a single source)."""
        if self.source:
            lang = str(self.source["lang"])
            entry = {"train": self.source["train"], "validation": self.source.get("validation")}
            return [self._spec(lang, entry, "data.source")]
        specs = []
        for lang, entry in (self.sources or {}).items():
            merged = {**to_plain(self.source_defaults), **to_plain(entry or {})}  # entry keys replace defaults
            specs.append(self._spec(str(lang), merged, f"data.sources.{lang}"))
        return specs

    def _spec(self, lang: str, entry: dict[str, Any], where: str) -> SourceSpec:
        if entry.get("train") is None:
            raise ConfigError(f"{where}: no train location")
        language_module = entry.get("language_module", True) and self.has_language_module(lang)
        return SourceSpec(
            lang=lang, train=self._resolve_all(entry["train"], lang, f"{where}.train"),
            validation=self._resolve_all(entry.get("validation"), lang, f"{where}.validation"),
            upsampling=int(entry.get("upsampling", 1)), max_train_examples=entry.get("max_train_examples"),
            max_validation_examples=entry.get("max_validation_examples"), subset=entry.get("subset", "first"),
            language_module=bool(language_module))

    def source_location(self, split: str) -> DataLocation | None:
        """The first location of the (first) source's ``split`` (single-source callers)."""
        spec = self.mixture()[0]
        locations = spec.train if split == "train" else spec.validation
        return locations[0] if locations else None

    # ------------------------------------------------------------------ targets and corpora
    def is_high_resource(self, lang: str) -> bool:
        return lang in self.high_resource

    def has_language_module(self, lang: str) -> bool:
        return bool((self.languages.get(lang) or {}).get("language_module", True))

    def target_location(self, lang: str, split: str) -> DataLocation | None:
        template = _merge(self.target, (self.languages.get(lang) or {}).get("target") or {})
        node = template.get(split)
        return None if node is None else self._resolve(node, lang, f"data.target.{split} ({lang})")

    def target_locations(self, lang: str, split: str) -> list[DataLocation]:
        """Every location of a target's ``split`` (``shots`` may list several: NusaX's train + validation)."""
        template = _merge(self.target, (self.languages.get(lang) or {}).get("target") or {})
        return self._resolve_all(template.get(split), lang, f"data.target.{split} ({lang})")

    def parallel_locations(self, lang: str) -> dict[str, list[DataLocation]]:
        """The parallel corpus of ``lang`` (Table D.2) by split (``train``, ``validation``); empty: none."""
        node = _merge(self.parallel or {}, (self.languages.get(lang) or {}).get("parallel") or {})
        return {split: self._resolve_all(node.get(split), lang, f"data.parallel.{split} ({lang})")
                for split in PARALLEL_SPLITS if node.get(split) is not None}

    def trim_location(self) -> DataLocation | None:
        """The test set that source training rows are trimmed against (``data.trim.test``), or None."""
        if not self.trim:
            return None
        return self._resolve(self.trim["test"], self.source_lang, "data.trim.test")

    def corpus_location(self, lang: str) -> DataLocation:
        if self.corpus is None:
            raise ConfigError(f"data.corpus: no corpus template, but a language module for {lang!r} needs one")
        node = _merge(self.corpus, (self.languages.get(lang) or {}).get("corpus") or {})
        return self._resolve(node, lang, f"data.corpus ({lang})")

    # ------------------------------------------------------------------ resolution
    def variables(self, lang: str) -> dict[str, str]:
        values = (self.languages.get(lang) or {}).get("vars") or {}
        return {"lang": lang, **{str(k): str(v) for k, v in values.items()}}

    def _resolve(self, node: Any, lang: str, where: str) -> DataLocation:
        location = parse_location(_substitute(node, self.variables(lang), where), where)
        return effective(location, self.use_samples, self.samples_dir, where)

    def _resolve_all(self, node: Any, lang: str, where: str) -> list[DataLocation]:
        node = to_plain(node)
        if node is None:
            return []
        nodes = node if isinstance(node, list) else [node]
        return [self._resolve(n, lang, f"{where}[{i}]" if len(nodes) > 1 else where) for i, n in enumerate(nodes)]


def parse_data_config(node: Any) -> DataConfig:
    return parse(DataConfig, node, "data")


def check_exists(location: DataLocation, where: str) -> None:
    """Fail early, before any training, when a local file is missing."""
    if location.path is not None and not local_files(location.path):
        raise DataError(f"{where}: file not found: {location.path}")


def _merge(base: Any, override: Any) -> Any:
    base, override = to_plain(base), to_plain(override)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return override


def _substitute(node: Any, variables: dict[str, str], where: str) -> Any:
    node = to_plain(node)
    if isinstance(node, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in variables:
                raise ConfigError(f"{where}: {{{name}}} is undefined for {variables['lang']!r} "
                                  f"(set data.languages.{variables['lang']}.vars.{name})")
            return variables[name]

        return _PLACEHOLDER.sub(replace, node)
    if isinstance(node, dict):
        return {key: _substitute(value, variables, where) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(value, variables, where) for value in node]
    return node
