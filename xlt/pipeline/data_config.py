"""The ``data`` config group: source task data, target languages, and language corpora.

Target and corpus locations are written once as templates in which ``{lang}`` stands for
the language code; ``languages`` deep-merges per-language overrides into them, e.g.::

    targets: [aym, bzd]
    target:
      test: {hub: nala-cub/americas_nli, name: "{lang}", split: test,
             sample: {path: americasnli/test.tsv, filter: {language: "{lang}"}}}
    corpus: {path: "${paths.data}/corpora/{lang}.txt", sample: {path: "corpora/{lang}.txt"}}
    languages:
      en: {corpus: {path: null, hub: wikimedia/wikipedia, name: 20231101.en, split: train}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.config import parse, to_plain
from xlt.data.locations import DataLocation, effective, parse_location
from xlt.errors import ConfigError, DataError


@dataclass
class DataConfig:
    name: str
    source: dict[str, Any]  # {lang, train, validation}
    targets: list[str] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)  # {test: location, validation: location}
    corpus: dict[str, Any] | None = None  # template of language-module corpora
    languages: dict[str, Any] = field(default_factory=dict)  # per-language overrides
    use_samples: bool = False  # read each location's bundled ``sample`` instead (smoke profile)
    samples_dir: str | None = None  # default: the samples bundled with xlt

    def __post_init__(self) -> None:
        unknown = set(self.source) - {"lang", "train", "validation"}
        if unknown:
            raise ConfigError(f"data.source: unknown key {sorted(unknown)[0]!r} (known: lang, train, validation)")
        if "lang" not in self.source or "train" not in self.source:
            raise ConfigError("data.source: needs lang and train")
        for lang, override in self.languages.items():
            unknown = set(override or {}) - {"corpus", "target"}
            if unknown:
                raise ConfigError(f"data.languages.{lang}: unknown key {sorted(unknown)[0]!r} (known: corpus, target)")
        for split in self.target:
            if split not in ("test", "validation"):
                raise ConfigError(f"data.target: unknown split {split!r} (known: test, validation)")

    @property
    def source_lang(self) -> str:
        return str(self.source["lang"])

    def _resolve(self, node: Any, where: str) -> DataLocation:
        location = parse_location(node, where)
        return effective(location, self.use_samples, self.samples_dir, where)

    def source_location(self, split: str) -> DataLocation | None:
        node = self.source.get(split)
        return None if node is None else self._resolve(node, f"data.source.{split}")

    def target_location(self, lang: str, split: str) -> DataLocation | None:
        template = _merge(self.target, (self.languages.get(lang) or {}).get("target") or {})
        node = template.get(split)
        return None if node is None else self._resolve(_substitute(node, lang), f"data.target.{split} ({lang})")

    def corpus_location(self, lang: str) -> DataLocation:
        if self.corpus is None:
            raise ConfigError(f"data.corpus: no corpus template, but a language module for {lang!r} needs one")
        node = _merge(self.corpus, (self.languages.get(lang) or {}).get("corpus") or {})
        return self._resolve(_substitute(node, lang), f"data.corpus ({lang})")


def parse_data_config(node: Any) -> DataConfig:
    return parse(DataConfig, node, "data")


def check_exists(location: DataLocation, where: str) -> None:
    """Fail early, before any training, when a local file is missing."""
    if location.path is not None and not Path(location.path).exists():
        raise DataError(f"{where}: file not found: {location.path}")


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return override


def _substitute(node: Any, lang: str) -> Any:
    node = to_plain(node)
    if isinstance(node, str):
        return node.replace("{lang}", lang)
    if isinstance(node, dict):
        return {key: _substitute(value, lang) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(value, lang) for value in node]
    return node
