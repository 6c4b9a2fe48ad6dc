"""The stages that recipes are made of: train a language module, train a task module,
evaluate a composition. Each returns a :class:`Stage` whose spec decides its artifact key, and
whose ``validate`` check reads the stage's data files as its build will (the runner checks every
unfinished stage before building the first, xlt.pipeline.stage).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch

from xlt.config import as_dict
from xlt.data.locations import DataLocation, fingerprint, load_location
from xlt.data.readers import PLAIN_TEXT, TextFileFormat
from xlt.data.sampling import subset_order, subset_rng
from xlt.errors import ConfigError, DataError
from xlt.pipeline.data_config import SourceSpec, check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.stage import Stage, StageContext
from xlt.tasks import build_task
from xlt.tasks.mlm import MLMConfig, MLMFamily
from xlt.training.methods import METHODS, ModuleArtifact, TrainRequest
from xlt.training.multisource import MultiSourceTrain
from xlt.training.schedule import Schedule

# rows of a hub dataset that the plan's data check preprocesses (local files are preprocessed in full)
HUB_CHECK_ROWS = 1000


def check_data(location: DataLocation, where: str, preprocess: Callable[[datasets.Dataset, str], Any] | None = None,
               text_file: TextFileFormat = PLAIN_TEXT) -> datasets.Dataset:
    """Open and parse one location as a stage's build will, before any stage is built: a local file is
    read by its reader and (with ``preprocess``, the task family's) preprocessed in full, so a malformed
    line, label or tag fails now with its file and line; a hub dataset is loaded (resolved: a missing
    dataset, config or split fails naming ``where``) and its first HUB_CHECK_ROWS rows preprocessed."""
    dataset = load_location(location, where, text_file)
    if preprocess is not None:
        preprocess(_rows_to_check(location, dataset), where)
    return dataset


def _rows_to_check(location: DataLocation, dataset: datasets.Dataset) -> datasets.Dataset:
    if location.path is not None:
        return dataset
    return dataset.select(range(min(HUB_CHECK_ROWS, len(dataset))))


def check_corpus(location: DataLocation, where: str) -> datasets.Dataset:
    """A language corpus opened and parsed as a language-module build reads it (its ``text`` column)."""
    corpus = check_data(location, where)
    if "text" not in corpus.column_names:
        raise DataError(f"{where}: a corpus needs a 'text' column (found {corpus.column_names})")
    return corpus


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
            "corpus": fingerprint(location), "high_resource": exp.data.is_high_resource(lang), **exp.training_spec()}
    return Stage("language_module", f"lang/{lang}", spec, partial(_build_language_module, exp, lang, location),
                 validate=partial(_check_language_module, exp, lang, location))


def _check_language_module(exp: Experiment, lang: str, location: DataLocation) -> None:
    check_corpus(location, f"data.corpus ({lang})")
    pretrained = getattr(exp.lang_module, "pretrained", None) or {}
    if lang in pretrained and not (Path(pretrained[lang]) / "adapter_config.json").is_file():
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


def _build_language_module(exp: Experiment, lang: str, location: DataLocation, ctx: StageContext) -> dict[str, Any]:
    cfg = exp.lang_module
    mlm, schedule = language_training(exp, lang)
    family = MLMFamily(mlm, exp.tokenizer)
    corpus = load_location(location, f"data.corpus ({lang})")
    train_lines, heldout = family.split_heldout(corpus, f"data.corpus ({lang})")
    train = family.preprocess(train_lines, f"data.corpus ({lang})")
    validation = {}
    if heldout is not None:
        validation[lang] = family.preprocess(heldout, f"data.corpus ({lang})")[:family.cfg.max_heldout_blocks]
    torch.manual_seed(exp.seed)  # any newly initialised weights: the same in every run (and resumed run)
    model = family.build_model(exp.model_path, exp.model)
    meta = {"base_model": exp.model.name_or_path or exp.model_path, "base_hash": exp.base_hash(model.body),
            "kind": "language", "lang": lang}
    request = TrainRequest(model, train, validation, family.collator(), schedule,
                           exp.fitter(ctx.stage.label, ctx.work_dir), exp.seed, exp.model.num_parameters, meta,
                           config_key="lang_module")
    module, summary = METHODS[cfg.method].train(cfg, request)
    module.save(ctx.out_dir)
    return {**summary, "heldout_blocks": len(validation.get(lang, []))}


# ---------------------------------------------------------------------------- task module
def task_module_stage(exp: Experiment, lang_stages: Stage | None | Mapping[str, Stage | None]) -> Stage:
    """The task module, trained on the source data: one source with its language module applied
    throughout (§4.3.2), or a mixture of sources, each batch with its own language's module (§4.4.4).
    ``lang_stages`` maps source languages to their language-module stages (a bare stage or None:
    the single source's)."""
    mixture = exp.data.mixture()
    if not isinstance(lang_stages, Mapping):
        lang_stages = {mixture[0].lang: lang_stages}
    sources = []
    for spec in mixture:
        for split, locations in (("train", spec.train), ("validation", spec.validation)):
            for location in locations:
                check_exists(location, f"data.sources.{spec.lang}.{split}")
        sources.append({"lang": spec.lang, "train": [fingerprint(x) for x in spec.train],
                        "validation": [fingerprint(x) for x in spec.validation], "upsampling": spec.upsampling,
                        "max_train_examples": spec.max_train_examples,
                        "max_validation_examples": spec.max_validation_examples, "subset": spec.subset})
    spec = {**exp.model_spec(), "module": exp.module_spec(exp.task_module), "task": exp.task_cfg,
            "sources": sources, "sampling": as_dict(exp.data.sampling) if len(mixture) > 1 else None,
            **exp.training_spec()}
    inputs = {f"lang/{lang}": stage for lang, stage in lang_stages.items() if stage is not None}
    return Stage("task_module", "task", spec, partial(_build_task_module, exp, mixture), inputs, version=2,
                 validate=partial(_check_task_module, exp, mixture))


def _source_examples(family: Any, locations: list[DataLocation], cap: int | None, where: str, subset: str = "first",
                     rng: np.random.Generator | None = None) -> list[dict[str, Any]]:
    """Preprocessed examples of one source split: ``cap`` rows of its locations taken together, the first
    ones or (``subset: random``) a sample drawn with ``rng`` (xlt.data.sampling), kept in file order."""
    labels = [f"{where}[{i}]" if len(locations) > 1 else where for i in range(len(locations))]
    parts = [load_location(location, label, family.text_file_format()) for location, label in zip(locations, labels)]
    offsets = np.cumsum([0, *(len(part) for part in parts)])
    chosen = np.sort(subset_order(int(offsets[-1]), cap, subset, rng or subset_rng(0)))
    examples: list[dict[str, Any]] = []
    for part, label, start, end in zip(parts, labels, offsets[:-1], offsets[1:]):
        rows = chosen[(chosen >= start) & (chosen < end)] - start
        if len(rows):
            examples.extend(family.preprocess(part if len(rows) == len(part) else part.select(rows.tolist()), label))
    return examples


def _check_task_module(exp: Experiment, mixture: list[SourceSpec]) -> None:
    """Every source split read and preprocessed as the task module's build will (hub: the first rows)."""
    family = build_task(exp.task_cfg, exp.tokenizer)
    for spec in mixture:
        for split, locations in (("train", spec.train), ("validation", spec.validation)):
            for i, location in enumerate(locations):
                at = f"data.sources.{spec.lang}.{split}" + (f"[{i}]" if len(locations) > 1 else "")
                check_data(location, at, family.preprocess, family.text_file_format())


def _build_task_module(exp: Experiment, mixture: list[SourceSpec], ctx: StageContext) -> dict[str, Any]:
    family = build_task(exp.task_cfg, exp.tokenizer)
    train: dict[str, list[dict[str, Any]]] = {}
    validation: dict[str, list[dict[str, Any]]] = {}
    for spec in mixture:
        where = f"data.sources.{spec.lang}"
        train[spec.lang] = _source_examples(family, spec.train, spec.max_train_examples, f"{where}.train",
                                            spec.subset, subset_rng(exp.seed, "source", spec.lang, "train"))
        if spec.validation:
            validation[spec.lang] = _source_examples(family, spec.validation, spec.max_validation_examples,
                                                     f"{where}.validation", spec.subset,
                                                     subset_rng(exp.seed, "source", spec.lang, "validation"))
    torch.manual_seed(exp.seed)  # the new head's random init: the same in every run (and resumed run)
    model = family.build_model(exp.model_path, exp.model)
    meta = {"base_model": exp.model.name_or_path or exp.model_path, "base_hash": exp.base_hash(model.body),
            "kind": "task", "task": family.name, "source": ",".join(train)}
    modules = {}
    for name, directory in ctx.inputs.items():
        lang = name.split("/", 1)[1]
        module = load_module(exp.lang_module.method, directory)
        module.check_base(exp.base_hash(model.body), where=str(directory))
        modules[lang] = module
    meta["trained_on"] = {lang: ctx.stage.inputs[f"lang/{lang}"].key for lang in modules}
    if len(mixture) == 1:  # train on theta0 + phi_lang(source) throughout (§4.3.2)
        if modules:
            modules[mixture[0].lang].attach(model, with_head=False)
        examples: Any = train[mixture[0].lang]
    else:  # each batch one language, its module active for that step only (§4.4.4)
        examples = MultiSourceTrain(train, {s.lang: s.upsampling for s in mixture}, modules, exp.data.sampling)
    request = TrainRequest(model, examples, validation, family.collator(), family.schedule,
                           exp.fitter(ctx.stage.label, ctx.work_dir), exp.seed, exp.model.num_parameters, meta)
    module, summary = METHODS[exp.task_module.method].train(exp.task_module, request)
    module.save(ctx.out_dir)
    return {**summary, "train_examples": {lang: len(e) for lang, e in train.items()}}


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
    return Stage("evaluation", f"eval/{lang}", spec, partial(_build_evaluation, exp, lang, location), inputs,
                 validate=partial(_check_evaluation, exp, lang, location))


def _check_evaluation(exp: Experiment, lang: str, location: DataLocation) -> None:
    family = build_task(exp.task_cfg, exp.tokenizer)
    check_data(location, f"data.target.test ({lang})", family.preprocess, family.text_file_format())


def _build_evaluation(exp: Experiment, lang: str, location: DataLocation, ctx: StageContext) -> dict[str, Any]:
    family = build_task(exp.task_cfg, exp.tokenizer)
    where = f"data.target.test ({lang})"
    examples = family.preprocess(load_location(location, where, family.text_file_format()), where)
    model = family.build_model(exp.model_path, exp.model)
    _attach(exp, exp.task_module.method, ctx.inputs["task"], model, with_head=True)  # theta + phi_task (+ head)
    if "lang" in ctx.inputs:  # + phi_lang(target) (§4.3.2)
        _attach(exp, exp.lang_module.method, ctx.inputs["lang"], model, with_head=False)
    results = exp.fitter(ctx.stage.label).evaluate(model, {lang: examples}, family.collator(),
                                                   family.schedule.batch_size)
    return {**results[lang], "examples": len(examples)}
