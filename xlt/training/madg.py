"""MAD-G as a pipeline method (thesis chapter 3): train the adapter generator, generate language
adapters from URIEL vectors, and fine-tune generated adapters (MAD-G-ft, §3.5.3).

Generator training (§3.4.3): multilingual MLM over the training languages' corpora with the base
model (its MLM head included) frozen and only the generator (W, V, layer embeddings) trained; each
batch holds one language, drawn with p(l) proportional to min(n_l, 500,000)^0.5 (at most 500,000
sequences per language, sampled from the whole dump: ``corpus_subset``); the batch's adapter is
generated from its language's URIEL vector on the forward pass (xlt.modules.madg.GeneratorAdapter,
switched per batch like any multi-source language module: xlt.training.multisource). Thesis: 95
Wikipedias, 200k steps, batch 64, sequences of 256, lr 5e-5 decaying linearly; held-out MLM loss per
language selects the checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from xlt.config import check_choice, check_number
from xlt.data.mixture import SamplingConfig
from xlt.data.sampling import check_subset
from xlt.errors import ArtifactError, ConfigError
from xlt.modules.adapters import ACTIVATIONS, PfeifferAdapter, attach_adapter, find_sites
from xlt.modules.madg import AdapterGenerator, GeneratorAdapter
from xlt.tasks.base import TaskModel
from xlt.tasks.mlm import MLMConfig
from xlt.training.adapters import AdapterModule, check_layers, fit_with_adapter, freeze, load_adapter_module
from xlt.training.fit import Fitter, PhaseResult
from xlt.training.multisource import MultiSourceTrain
from xlt.training.schedule import Schedule
from xlt.typology import resolve_code, uriel_vector

if TYPE_CHECKING:
    from xlt.training.methods import TrainRequest

GENERATOR_WEIGHTS = "generator.safetensors"
GENERATOR_CONFIG = "generator_config.json"
FORMAT = "xlt-madg-generator"


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


# ---------------------------------------------------------------------------- generator artifact
class GeneratorArtifact:
    """A trained generator: ``generator.safetensors`` + ``generator_config.json``."""

    def __init__(self, generator: AdapterGenerator, meta: dict[str, Any]):
        self.generator, self.meta = generator, meta

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        g = self.generator
        config = {"format": FORMAT, "format_version": 1, "hidden_size": g.hidden_size, "bottleneck": g.bottleneck,
                  "layers": list(g.layers), "language_dim": g.language_dim, "layer_dim": g.layer_dim,
                  "num_features": g.num_features, "non_linearity": g.non_linearity,
                  "parameters": g.parameter_counts(), **self.meta}
        save_file({k: v.detach().cpu().contiguous() for k, v in g.state_dict().items()},
                  str(directory / GENERATOR_WEIGHTS))
        (directory / GENERATOR_CONFIG).write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> GeneratorArtifact:
        config_path = directory / GENERATOR_CONFIG
        if not config_path.is_file() or not (directory / GENERATOR_WEIGHTS).is_file():
            raise ArtifactError(f"{directory}: not a MAD-G generator ({GENERATOR_CONFIG}, {GENERATOR_WEIGHTS})")
        config = json.loads(config_path.read_text())
        if config.get("format") != FORMAT:
            raise ArtifactError(f"{config_path}: format {config.get('format')!r}, expected {FORMAT!r}")
        generator = AdapterGenerator(config["hidden_size"], config["bottleneck"], config["layers"],
                                     config["language_dim"], config["layer_dim"], config["num_features"],
                                     config["non_linearity"])
        try:
            generator.load_state_dict(load_file(str(directory / GENERATOR_WEIGHTS)), strict=True)
        except Exception as error:  # safetensors/torch raise several types
            raise ArtifactError(f"{directory / GENERATOR_WEIGHTS}: cannot load ({str(error).splitlines()[0]})") \
                from None
        meta = {k: v for k, v in config.items() if k not in (
            "format", "format_version", "hidden_size", "bottleneck", "layers", "language_dim", "layer_dim",
            "num_features", "non_linearity", "parameters")}
        return cls(generator, meta)

    def generate(self, code: str, aliases: Mapping[str, str] | None = None) -> AdapterModule:
        """The generated language adapter of any language with a URIEL vector (seen in training or not)."""
        uriel = resolve_code(code, aliases)
        vector = torch.from_numpy(uriel_vector(uriel))
        adapter = self.generator.generate(vector)
        seen = uriel in set(self.meta.get("languages", {}).values())
        meta = {"method": "madg", "kind": "language", "lang": code, "uriel": uriel, "seen_by_generator": seen,
                "base_model": self.meta.get("base_model"), "base_hash": self.meta.get("base_hash")}
        return AdapterModule(adapter, None, meta)


class GeneratorLanguage:
    """Per-batch activation of one language on the generator (the language-module interface)."""

    def __init__(self, adapter: GeneratorAdapter, typology: torch.Tensor):
        self.adapter, self.typology = adapter, typology

    def attach(self, model: Any, with_head: bool = False) -> GeneratorLanguage:
        self.adapter.set_language(self.typology)
        return self

    def remove(self) -> None:
        self.adapter.set_language(None)


def typology_vectors(codes: Sequence[str], aliases: Mapping[str, str]) -> dict[str, tuple[str, np.ndarray]]:
    """{code: (URIEL code, t)} (one-line ConfigError for a language without a URIEL vector)."""
    return {code: (resolve_code(code, aliases), uriel_vector(code, aliases)) for code in codes}


# ---------------------------------------------------------------------------- training
def build_generator(cfg: MadgConfig, model: TaskModel, seed: int) -> AdapterGenerator:
    sites = find_sites(model.backbone)
    num_layers = len(sites.layer_norms)
    dropped = {i % num_layers for i in cfg.leave_out}
    layers = [i for i in range(num_layers) if i not in dropped]
    bottleneck = max(1, int(sites.hidden_size // cfg.reduction_factor))
    return AdapterGenerator(sites.hidden_size, bottleneck, layers, cfg.language_dim, cfg.layer_dim,
                            non_linearity=cfg.non_linearity, init_std=cfg.init_std, seed=seed)


def train_generator(cfg: MadgConfig, model: TaskModel, corpora: Mapping[str, tuple[Sequence[dict], Sequence[dict]]],
                    vectors: Mapping[str, tuple[str, np.ndarray]], collate: Any, fitter: Fitter, seed: int,
                    meta: dict[str, Any]) -> tuple[GeneratorArtifact, dict[str, Any]]:
    """Multilingual MLM training of the generator on ``corpora`` ({lang: (train blocks, held-out blocks)})."""
    freeze(model)
    generator = build_generator(cfg, model, seed)
    adapter = GeneratorAdapter(generator)
    handle = attach_adapter(model.backbone, adapter, owner=model, name="xlt_madg_generator")
    validation = {lang: heldout for lang, (_, heldout) in corpora.items() if len(heldout)}
    examples = MultiSourceTrain(
        {lang: train for lang, (train, _) in corpora.items()},
        modules={lang: GeneratorLanguage(adapter, torch.from_numpy(vectors[lang][1])) for lang in corpora},
        sampling=SamplingConfig(policy="smoothed", alpha=cfg.smoothing, cap=cfg.max_sequences))
    try:
        result: PhaseResult = fitter.fit(model, examples, validation, collate, cfg.train or Schedule(), "train")
    finally:
        handle.remove()
    generator = generator.cpu()
    counts = {lang: len(train) for lang, (train, _) in corpora.items()}
    artifact = GeneratorArtifact(generator, {**meta, "languages": {lang: vectors[lang][0] for lang in corpora},
                                             "sequences": counts, "smoothing": cfg.smoothing})
    summary = {"train/steps": result.steps, **{f"train/{k}": v for k, v in result.metrics.items()},
               **{f"batches/{lang}": n for lang, n in result.batches.items()},
               **{f"parameters/{k}": v for k, v in generator.parameter_counts().items()}}
    return artifact, summary


# ---------------------------------------------------------------------------- MAD-G-ft / rand-ft
def finetune_adapter(adapter: PfeifferAdapter, request: TrainRequest) -> tuple[AdapterModule, dict[str, Any]]:
    """MLM fine-tuning of a language adapter on a small corpus (MAD-G-ft: generated initialisation;
    rand-ft: random initialisation; §3.5.3), base frozen."""
    model = request.model
    freeze(model)
    adapter.requires_grad_(True)
    result = fit_with_adapter(adapter, request, "xlt_finetuned_adapter")
    return (AdapterModule(adapter.cpu(), None, dict(request.meta)),
            {"train/steps": result.steps, **{f"train/{k}": v for k, v in result.metrics.items()}})


from xlt.training.methods import register_method  # noqa: E402  (here: methods imports this module)

register_method("madg", MadgConfig, None, load_adapter_module)
