"""The stages that recipes are made of: train a language module, train a task module,
evaluate a composition. Each returns a :class:`Stage` whose spec decides its artifact key.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from xlt.data.locations import DataLocation, fingerprint, load_location
from xlt.errors import ConfigError
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.stage import Stage, StageContext
from xlt.tasks import build_task
from xlt.tasks.mlm import MLMConfig, MLMFamily
from xlt.training.methods import METHODS, ModuleArtifact, TrainRequest
from xlt.training.schedule import Schedule


def load_module(method: str, directory: Path) -> ModuleArtifact:
    loader = METHODS[method].load
    assert loader is not None, f"method {method!r} has no artifact"
    return loader(directory)


def _attach(exp: Experiment, method: str, directory: Path, model: Any, with_head: bool) -> Any:
    module = load_module(method, directory)
    module.check_base(exp.base_hash(model.body), where=str(directory))
    return module.attach(model, with_head=with_head)


# ---------------------------------------------------------------------------- language module
def language_module_stage(exp: Experiment, lang: str) -> Stage:
    if METHODS[exp.lang_module.method].train is None:
        raise ConfigError(f"lang_module.method={exp.lang_module.method!r} is not trained per language "
                          "(MAD-G: use recipe=madg)")
    location = exp.data.corpus_location(lang)
    check_exists(location, f"data.corpus ({lang})")
    spec = {**exp.model_spec(), "module": exp.module_spec(exp.lang_module), "lang": lang,
            "corpus": fingerprint(location), **exp.training_spec()}
    return Stage("language_module", f"lang/{lang}", spec, partial(_build_language_module, exp, lang, location))


def _build_language_module(exp: Experiment, lang: str, location: DataLocation, ctx: StageContext) -> dict[str, Any]:
    cfg = exp.lang_module
    family = MLMFamily(cfg.mlm or MLMConfig(), exp.tokenizer)
    corpus = load_location(location, f"data.corpus ({lang})")
    train_lines, heldout = family.split_heldout(corpus, f"data.corpus ({lang})")
    train = family.preprocess(train_lines, f"data.corpus ({lang})")
    validation = {}
    if heldout is not None:
        validation[lang] = family.preprocess(heldout, f"data.corpus ({lang})")[:family.cfg.max_heldout_blocks]
    model = family.build_model(exp.model_path, exp.model)
    meta = {"base_model": exp.model.name_or_path or exp.model_path, "base_hash": exp.base_hash(model.body),
            "kind": "language", "lang": lang}
    request = TrainRequest(model, train, validation, family.collator(), cfg.train or Schedule(),
                           exp.fitter(ctx.stage.label), exp.seed, exp.model.num_parameters, meta)
    module, summary = METHODS[cfg.method].train(cfg, request)
    module.save(ctx.out_dir)
    return summary


# ---------------------------------------------------------------------------- task module
def task_module_stage(exp: Experiment, lang_stage: Stage | None) -> Stage:
    train = exp.data.source_location("train")
    validation = exp.data.source_location("validation")
    assert train is not None
    check_exists(train, "data.source.train")
    if validation is not None:
        check_exists(validation, "data.source.validation")
    spec = {**exp.model_spec(), "module": exp.module_spec(exp.task_module), "task": exp.task_cfg,
            "source": exp.data.source_lang, "train": fingerprint(train),
            "validation": fingerprint(validation) if validation else None, **exp.training_spec()}
    inputs = {"lang": lang_stage} if lang_stage is not None else {}
    return Stage("task_module", "task", spec, partial(_build_task_module, exp, train, validation), inputs)


def _build_task_module(exp: Experiment, train_location: DataLocation, validation_location: DataLocation | None,
                       ctx: StageContext) -> dict[str, Any]:
    family = build_task(exp.task_cfg, exp.tokenizer)
    train = family.preprocess(load_location(train_location, "data.source.train"), "data.source.train")
    validation = {}
    if validation_location is not None:
        validation = {exp.data.source_lang: family.preprocess(
            load_location(validation_location, "data.source.validation"), "data.source.validation")}
    model = family.build_model(exp.model_path, exp.model)
    meta = {"base_model": exp.model.name_or_path or exp.model_path, "base_hash": exp.base_hash(model.body),
            "kind": "task", "task": family.name, "source": exp.data.source_lang}
    if "lang" in ctx.inputs:  # train on theta0 + phi_lang(source) (§4.3.2)
        _attach(exp, exp.lang_module.method, ctx.inputs["lang"], model, with_head=False)
        meta["trained_on"] = str(ctx.stage.inputs["lang"].key)
    request = TrainRequest(model, train, validation, family.collator(), family.schedule,
                           exp.fitter(ctx.stage.label), exp.seed, exp.model.num_parameters, meta)
    module, summary = METHODS[exp.task_module.method].train(exp.task_module, request)
    module.save(ctx.out_dir)
    return summary


# ---------------------------------------------------------------------------- evaluation
def evaluation_stage(exp: Experiment, lang: str, task_stage: Stage, lang_stage: Stage | None) -> Stage:
    location = exp.data.target_location(lang, "test")
    if location is None:
        raise ConfigError(f"data.target.test: no test location for target {lang!r}")
    check_exists(location, f"data.target.test ({lang})")
    spec = {**exp.model_spec(), "task": exp.task_cfg, "lang": lang, "test": fingerprint(location),
            "precision": exp.trainer.precision, "lang_module_method": exp.lang_module.method,
            "task_module_method": exp.task_module.method}
    inputs = {"task": task_stage, **({"lang": lang_stage} if lang_stage is not None else {})}
    return Stage("evaluation", f"eval/{lang}", spec, partial(_build_evaluation, exp, lang, location), inputs)


def _build_evaluation(exp: Experiment, lang: str, location: DataLocation, ctx: StageContext) -> dict[str, Any]:
    family = build_task(exp.task_cfg, exp.tokenizer)
    examples = family.preprocess(load_location(location, f"data.target.test ({lang})"), f"data.target.test ({lang})")
    model = family.build_model(exp.model_path, exp.model)
    _attach(exp, exp.task_module.method, ctx.inputs["task"], model, with_head=True)  # theta + phi_task (+ head)
    if "lang" in ctx.inputs:  # + phi_lang(target) (§4.3.2)
        _attach(exp, exp.lang_module.method, ctx.inputs["lang"], model, with_head=False)
    results = exp.fitter(ctx.stage.label).evaluate(model, {lang: examples}, family.collator(),
                                                   family.schedule.batch_size)
    return {**results[lang], "examples": len(examples)}
