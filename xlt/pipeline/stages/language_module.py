"""``lang/<l>``: a language module trained by masked language modelling on the language's corpus
(thesis §4.4.2; held-out split and validation interval by resource level)."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Any

import torch

from xlt.data.blocks import MLMConfig
from xlt.data.locations import DataLocation, fingerprint, load_location
from xlt.errors import ConfigError, DataError
from xlt.methods import METHODS, TrainRequest
from xlt.pipeline.base_model import BaseModel
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_corpus
from xlt.schedule import Schedule
from xlt.tasks.mlm import MLMFamily


def language_module_spec(exp: Experiment, languages: list[str]) -> dict[str, Any]:
    """``lang_module`` in the keys of stages that train or wear the modules of ``languages``: released modules
    (``pretrained``) named for other languages left out, so setting one language's changes no other's key."""
    cfg = exp.lang_module
    pretrained = getattr(cfg, "pretrained", None)
    if isinstance(pretrained, dict) and pretrained:  # the spec of the config naming only these languages' modules
        cfg = dataclasses.replace(cfg, pretrained={lang: value for lang, value in pretrained.items()
                                                   if lang in languages})
    return exp.module_spec(cfg)


def language_module_stage(exp: Experiment, lang: str, model: BaseModel | None = None) -> Stage:
    """``lang``'s language module on ``model`` (default: the configured base model)."""
    model = model or exp.base_model
    if not METHODS[exp.lang_module.method].trains:
        raise ConfigError(f"lang_module.method={exp.lang_module.method!r} is not trained per language "
                          "(MAD-G: use recipe=madg)")
    imported = lang in (getattr(exp.lang_module, "pretrained", None) or {})  # a released module: no corpus
    location = None if imported else exp.data.corpus_location(lang)
    if location is not None:
        check_exists(location, f"data.corpus ({lang})")
    spec = {**model.spec, "module": language_module_spec(exp, [lang]), "lang": lang,
            "corpus": fingerprint(location) if location is not None else None,
            "high_resource": exp.data.is_high_resource(lang), **exp.training_spec()}
    return Stage("language_module", f"lang/{lang}", spec, partial(_build_language_module, exp, lang, location, model),
                 model.inputs(), validate=partial(_check_language_module, exp, lang, location))


def _check_language_module(exp: Experiment, lang: str, location: DataLocation | None) -> None:
    if location is not None:
        check_corpus(location, f"data.corpus ({lang})")
    pretrained = getattr(exp.lang_module, "pretrained", None) or {}
    if exp.lang_module.method == "adapter" and lang in pretrained and not (
            Path(pretrained[lang]) / "adapter_config.json").is_file():
        raise DataError(f"lang_module.pretrained.{lang}: {pretrained[lang]} is not an AdapterHub adapter "
                        "directory (no adapter_config.json)")


def language_training(exp: Experiment, lang: str) -> tuple[MLMConfig, Schedule]:
    """The MLM settings and schedule of ``lang``'s language module: high-resource languages
    (``data.high_resource``) hold out 1% of the corpus and validate every 5,000 steps (§4.4.2)."""
    mlm = exp.lang_module.mlm or MLMConfig()
    schedule = exp.lang_module.train or Schedule()
    if exp.trainer.mlm_max_seq_length and exp.trainer.mlm_max_seq_length < mlm.max_seq_length:
        mlm = dataclasses.replace(mlm, max_seq_length=exp.trainer.mlm_max_seq_length)
    if exp.data.is_high_resource(lang):
        mlm = dataclasses.replace(mlm, heldout_fraction=mlm.high_resource_heldout_fraction)
        if mlm.high_resource_eval_every:
            schedule = dataclasses.replace(schedule, eval_every=mlm.high_resource_eval_every)
    return mlm, schedule


def _build_language_module(exp: Experiment, lang: str, location: DataLocation | None, base: BaseModel,
                           ctx: StageContext) -> dict[str, Any]:
    cfg = exp.lang_module
    mlm, schedule = language_training(exp, lang)
    path = base.path(ctx)
    family = MLMFamily(mlm, exp.tokenizer_of(path))
    train: list[dict[str, Any]] = []
    validation = {}
    heldout = None
    corpus_size: dict[str, int] = {}
    if location is not None:  # None: a released module is imported (lang_module.pretrained)
        corpus = load_location(location, f"data.corpus ({lang})")
        corpus_size = {"corpus_lines": len(corpus), "corpus_words": corpus_words(corpus)}
        train_lines, heldout = family.split_heldout(corpus, f"data.corpus ({lang})")
        train = family.preprocess(train_lines, f"data.corpus ({lang})")
        corpus_size["train_blocks"] = len(train)
    if heldout is not None:
        validation[lang] = family.preprocess(heldout, f"data.corpus ({lang})")[:family.cfg.max_heldout_blocks]
    torch.manual_seed(exp.seed)  # any newly initialised weights: the same in every run (and resumed run)
    model = family.build_model(path, base.config)
    meta = {"base_model": base.name(ctx), "base_hash": exp.base_hash(model.body, path), "kind": "language",
            "lang": lang}
    request = TrainRequest(model, train, validation, family.collator(), schedule,
                           exp.fitter(ctx.stage.label, ctx.work_dir), exp.seed, base.config.num_parameters, meta,
                           config_key="lang_module")
    module, summary = METHODS[cfg.method].train(cfg, request)
    module.save(ctx.out_dir)
    return {**summary, **corpus_size, "heldout_blocks": len(validation.get(lang, []))}


def corpus_words(corpus: Any) -> int:
    """Whitespace-separated words in a corpus's ``text`` column: the monolingual corpus size against which
    Figure 6.2 (thesis §6.5) plots the gain from language adaptation."""
    if "text" not in corpus.column_names:
        return 0  # preprocess names the missing column
    return sum(len(str(text).split()) for start in range(0, len(corpus), 1000)
               for text in corpus[start:start + 1000]["text"])
