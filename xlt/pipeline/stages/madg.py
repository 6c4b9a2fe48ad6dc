"""Stages of the MAD-G recipes (thesis chapter 3): train the adapter generator, generate a language
adapter, fine-tune a language adapter on a few words (MAD-G-ft / rand-ft), and measure held-out MLM
loss with and without a language adapter. Task training and task evaluation reuse
xlt.pipeline.stages (a generated adapter is an ordinary adapter artifact).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from xlt.config import as_dict, to_plain
from xlt.data.blocks import MLMConfig, TokenBlocks, build_blocks
from xlt.data.locations import DataLocation, effective, fingerprint, load_location, parse_location
from xlt.data.sampling import check_subset, first_words, sample_words, subset_order, subset_rng
from xlt.errors import ConfigError
from xlt.methods import TrainRequest
from xlt.methods.adapters.artifact import load_adapter_module
from xlt.methods.adapters.bottleneck import PfeifferAdapter
from xlt.methods.madg.artifact import GeneratorArtifact
from xlt.methods.madg.config import MadgConfig
from xlt.methods.madg.procedure import finetune_adapter, train_generator
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_corpus
from xlt.schedule import Schedule
from xlt.tasks.mlm import MLMFamily, special_affixes
from xlt.typology import resolve_code, uriel_vector
from xlt.utils.hashing import stable_hash

if TYPE_CHECKING:
    import datasets


@dataclass
class FinetuneConfig:
    """MAD-G-ft vs rand-ft (§3.5.3): each target's language adapter is fine-tuned by MLM on ``words``
    words of its corpus (1k..100k in Fig. 3.3), starting from the generated adapter (``init: generated``)
    or from a random one of the same shape (``init: random``); 200 epochs, batch 4, lr 5e-5. The words are
    "sampled from the full Wikipedia" (``subset: random``: lines drawn from the whole corpus, seeded by the
    run seed and the language, the same for both inits and nested across ``words``; ``first``: the corpus's
    first ``words`` words)."""

    words: int = 10000
    init: str = "generated"  # generated (MAD-G-ft) | random (rand-ft)
    subset: str = "random"  # random: a seeded sample of the whole corpus | first: its first ``words`` words
    train: Schedule = field(default_factory=lambda: Schedule(lr=5e-5, batch_size=4, max_epochs=200,
                                                             select_best=False))

    def __post_init__(self) -> None:
        if self.init not in ("generated", "random"):
            raise ConfigError(f"recipe.finetune.init={self.init!r}: expected generated or random")
        if self.words < 1:
            raise ConfigError(f"recipe.finetune.words={self.words}: must be positive")
        check_subset(self.subset, "recipe.finetune.subset")


def madg_config(exp: Experiment) -> MadgConfig:
    cfg = exp.lang_module
    if not isinstance(cfg, MadgConfig):
        raise ConfigError(f"lang_module.method={cfg.method!r}: this recipe needs lang_module=madg or madg_ls")
    return cfg


def _fill(node: Any, lang: str) -> Any:
    node = to_plain(node)
    if isinstance(node, str):
        return node.replace("{lang}", lang)
    if isinstance(node, dict):
        return {key: _fill(value, lang) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, lang) for value in node]
    return node


def generator_corpus(exp: Experiment, cfg: MadgConfig, lang: str) -> DataLocation:
    where = f"lang_module.corpus ({lang})"
    if cfg.corpus is None:
        raise ConfigError("lang_module.corpus: the generator needs a corpus location template")
    location = effective(parse_location(_fill(cfg.corpus, lang), where), exp.data.use_samples,
                         exp.data.samples_dir, where)
    check_exists(location, where)
    return location


def _mlm(cfg: Any) -> MLMConfig:
    return cfg.mlm or MLMConfig()


def _texts(dataset: datasets.Dataset, order: np.ndarray | None = None) -> Iterator[str]:
    if order is None:
        for start in range(0, len(dataset), 1000):
            yield from dataset[start:start + 1000]["text"]
    else:
        for start in range(0, len(order), 1000):
            yield from dataset.select(order[start:start + 1000].tolist())["text"]


# ---------------------------------------------------------------------------- generator
def generator_stage(exp: Experiment) -> Stage:
    cfg = madg_config(exp)
    languages = cfg.training_languages(exp.data.use_samples)
    locations = {lang: generator_corpus(exp, cfg, lang) for lang in languages}
    vectors = {lang: (resolve_code(lang, cfg.aliases), uriel_vector(lang, cfg.aliases)) for lang in languages}
    spec = {**exp.model_spec(), "module": exp.module_spec(cfg), "languages": languages,
            "corpora": {lang: fingerprint(loc) for lang, loc in locations.items()},
            "typology": {lang: [code, stable_hash(vector.tolist())] for lang, (code, vector) in vectors.items()},
            **exp.training_spec()}
    corpora = {f"lang_module.corpus ({lang})": location for lang, location in locations.items()}
    return Stage("adapter_generator", "generator", spec, partial(_build_generator, exp, locations, vectors),
                 validate=partial(_check_corpora, corpora))


def _check_corpora(corpora: dict[str, DataLocation]) -> None:
    """Every corpus opened and parsed as the build will read it (a local file in full; a hub dataset loaded)."""
    for where, location in corpora.items():
        check_corpus(location, where)


def generator_texts(articles: datasets.Dataset, cfg: MadgConfig, seed: int, lang: str) -> Iterator[str]:
    """``lang``'s training articles in the order they are cut into blocks until ``cfg.max_sequences`` exist
    (§3.4.3: sequences sampled from the whole dump): a random order over the whole dump, seeded by the run
    seed and the language (``corpus_subset: random``), or the dump's own order (``first``); at most
    ``cfg.max_articles`` articles. Only the index order is drawn: the (memory-mapped) dump is read lazily."""
    order = subset_order(len(articles), cfg.max_articles, cfg.corpus_subset, subset_rng(seed, "madg-generator", lang))
    return _texts(articles, order)


def _build_generator(exp: Experiment, locations: dict[str, DataLocation],
                     vectors: dict[str, tuple[str, np.ndarray]], ctx: StageContext) -> dict[str, Any]:
    cfg = madg_config(exp)
    family = MLMFamily(_mlm(cfg), exp.tokenizer)
    prefix, suffix = special_affixes(exp.tokenizer)
    corpora: dict[str, tuple[TokenBlocks, TokenBlocks | list]] = {}
    for lang, location in locations.items():
        where = f"lang_module.corpus ({lang})"
        corpus = load_location(location, where)
        if "text" not in corpus.column_names:
            raise ConfigError(f"{where}: a corpus needs a 'text' column (found {corpus.column_names})")
        train_lines, heldout = family.split_heldout(corpus, where)
        train = build_blocks(generator_texts(train_lines, cfg, exp.seed, lang), exp.tokenizer,
                             family.cfg.max_seq_length, prefix, suffix, cfg.max_sequences, where=where)
        held: TokenBlocks | list = []
        if heldout is not None:
            held = build_blocks(_texts(heldout), exp.tokenizer, family.cfg.max_seq_length, prefix, suffix,
                                family.cfg.max_heldout_blocks, where=where)
        train.save(ctx.work_dir / f"blocks-{lang}")  # keep RAM free: serve the blocks from disk
        corpora[lang] = (TokenBlocks.load(ctx.work_dir / f"blocks-{lang}"), held)
    model = family.build_model(exp.model_path, exp.model)
    meta = {"base_model": exp.model.name_or_path or exp.model_path, "base_hash": exp.base_hash(model.body)}
    artifact, summary = train_generator(cfg, model, corpora, vectors, family.collator(),
                                        exp.fitter(ctx.stage.label), exp.seed, meta)
    artifact.save(ctx.out_dir)
    return summary


# ---------------------------------------------------------------------------- generation
def generated_adapter_stage(exp: Experiment, lang: str, generator: Stage) -> Stage:
    """``lang/<l>``: the generated language adapter of ``lang`` (any URIEL language)."""
    cfg = madg_config(exp)
    code = resolve_code(lang, cfg.aliases)
    spec = {"lang": lang, "uriel": code, "typology": stable_hash(uriel_vector(code).tolist())}
    return Stage("language_module", f"lang/{lang}", spec, partial(_build_generated, cfg, lang),
                 {"generator": generator})


def _build_generated(cfg: MadgConfig, lang: str, ctx: StageContext) -> dict[str, Any]:
    module = GeneratorArtifact.load(ctx.inputs["generator"]).generate(lang, cfg.aliases)
    module.save(ctx.out_dir)
    return {"seen_by_generator": int(module.meta["seen_by_generator"]),
            "num_parameters": module.adapter.num_parameters()}


# ---------------------------------------------------------------------------- MAD-G-ft / rand-ft
def finetuned_adapter_stage(exp: Experiment, lang: str, ft: FinetuneConfig, generator: Stage,
                            generated: Stage | None) -> Stage:
    """``lang_ft/<l>``: ``lang``'s adapter fine-tuned by MLM on ``ft.words`` words of its corpus (a seeded
    sample or the first ones: ``ft.subset``, part of the key through ``finetune``)."""
    location = exp.data.corpus_location(lang)
    check_exists(location, f"data.corpus ({lang})")
    spec = {**exp.model_spec(), "finetune": as_dict(ft), "mlm": as_dict(_mlm(exp.lang_module)), "lang": lang,
            "corpus": fingerprint(location), **exp.training_spec()}
    inputs = {"generator": generator, **({"init": generated} if generated is not None else {})}
    return Stage("language_module", f"lang_ft/{lang}", spec, partial(_build_finetuned, exp, lang, ft, location),
                 inputs, validate=partial(_check_corpora, {f"data.corpus ({lang})": location}))


def finetune_texts(corpus: datasets.Dataset, ft: FinetuneConfig, seed: int, lang: str) -> list[str]:
    """The ``ft.words`` words MAD-G-ft / rand-ft train on (§3.5.3: sampled from the full corpus), read in one
    pass over ``corpus``: a seeded sample of its lines (seeded by the run seed and the language only, so
    MAD-G-ft and rand-ft see the same words) or its first words (``ft.subset: first``)."""
    if ft.subset == "first":
        return first_words(_texts(corpus), ft.words)
    return sample_words(_texts(corpus), ft.words, subset_rng(seed, "madg-ft", lang))


def _build_finetuned(exp: Experiment, lang: str, ft: FinetuneConfig, location: DataLocation,
                     ctx: StageContext) -> dict[str, Any]:
    import datasets

    where = f"data.corpus ({lang})"
    family = MLMFamily(_mlm(exp.lang_module), exp.tokenizer)
    texts = finetune_texts(load_location(location, where), ft, exp.seed, lang)
    train = family.preprocess(datasets.Dataset.from_dict({"text": texts}), where)
    model = family.build_model(exp.model_path, exp.model)
    generator = GeneratorArtifact.load(ctx.inputs["generator"])
    if ft.init == "generated":
        adapter = load_adapter_module(ctx.inputs["init"]).adapter
    else:
        adapter = PfeifferAdapter(generator.generator.shape, init="bert", seed=exp.seed)
    meta = {"method": "madg", "kind": "language", "lang": lang, "init": ft.init, "words": sum(len(t.split())
            for t in texts), "base_model": exp.model.name_or_path or exp.model_path,
            "base_hash": exp.base_hash(model.body)}
    request = TrainRequest(model, train, {}, family.collator(), ft.train, exp.fitter(ctx.stage.label), exp.seed,
                           exp.model.num_parameters, meta)
    module, summary = finetune_adapter(adapter, request)
    module.save(ctx.out_dir)
    return {**summary, "words": meta["words"], "blocks": len(train)}


# ---------------------------------------------------------------------------- held-out MLM loss
def mlm_evaluation_stage(exp: Experiment, lang: str, location: DataLocation, lang_stage: Stage) -> Stage:
    """``mlm/<l>``: held-out MLM loss of the base model alone and with ``lang``'s language adapter."""
    mlm = _mlm(exp.lang_module)
    spec = {**exp.model_spec(), "mlm": as_dict(mlm), "lang": lang, "corpus": fingerprint(location),
            "precision": exp.trainer.precision}
    return Stage("evaluation", f"mlm/{lang}", spec, partial(_build_mlm_evaluation, exp, lang, location),
                 {"lang": lang_stage}, validate=partial(_check_mlm_evaluation, exp, lang, location))


def _heldout(exp: Experiment, corpus: datasets.Dataset, where: str) -> datasets.Dataset:
    _, heldout = MLMFamily(_mlm(exp.lang_module), exp.tokenizer).split_heldout(corpus, where)
    if heldout is None:
        raise ConfigError(f"{where}: no held-out part (mlm.heldout_fraction is 0 or the corpus has one line)")
    return heldout


def _check_mlm_evaluation(exp: Experiment, lang: str, location: DataLocation) -> None:
    where = f"lang_module.corpus ({lang})"
    _heldout(exp, check_corpus(location, where), where)


def _build_mlm_evaluation(exp: Experiment, lang: str, location: DataLocation, ctx: StageContext) -> dict[str, Any]:
    where = f"lang_module.corpus ({lang})"
    family = MLMFamily(_mlm(exp.lang_module), exp.tokenizer)
    heldout = _heldout(exp, load_location(location, where), where)
    blocks = family.preprocess(heldout, where)[:family.cfg.max_heldout_blocks]
    model = family.build_model(exp.model_path, exp.model)
    model.eval()
    batch_size = (exp.lang_module.train or Schedule()).batch_size
    base = exp.fitter(f"{ctx.stage.label}/base").evaluate(model, {lang: blocks}, family.collator(), batch_size)[lang]
    module = load_adapter_module(ctx.inputs["lang"])
    module.check_base(exp.base_hash(model.body), str(ctx.inputs["lang"]))
    handle = module.attach(model, with_head=False)
    with torch.no_grad():
        adapted = exp.fitter(f"{ctx.stage.label}/adapted").evaluate(model, {lang: blocks}, family.collator(),
                                                                    batch_size)[lang]
    handle.remove()
    return {"loss": adapted["loss"], "loss_base": base["loss"], "blocks": len(blocks),
            "seen_by_generator": int(bool(module.meta.get("seen_by_generator")))}
