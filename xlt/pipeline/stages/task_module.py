"""``task``: the task module, trained on the source data with the source language module(s) applied
(§4.3.2; multi-source: each batch with its own language's module, §4.4.4)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import torch

from xlt.config import as_dict
from xlt.data.locations import DataLocation, load_location
from xlt.data.sampling import subset_order, subset_rng
from xlt.methods import METHODS, TrainRequest
from xlt.pipeline.base_model import BaseModel
from xlt.pipeline.data_config import SourceSpec, check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.produced import ProducedData, location_spec
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_data, load_module
from xlt.tasks import build_task
from xlt.training.multisource import MultiSourceTrain


def task_module_stage(exp: Experiment, lang_stages: Stage | None | Mapping[str, Stage | None],
                      model: BaseModel | None = None, mixture: list[SourceSpec] | None = None,
                      label: str = "task") -> Stage:
    """The task module, trained on the source data: one source with its language module applied
    throughout (§4.3.2), or a mixture of sources, each batch with its own language's module (§4.4.4).
    ``lang_stages`` maps source languages to their language-module stages (a bare stage or None:
    the single source's); ``model`` is the base model (default: the configured one); ``mixture`` the
    sources (default: the data config's; chapter 6 adds gold shots and translated data, sources with a
    name of their own that may read files other stages produce, xlt.pipeline.produced)."""
    model = model or exp.base_model
    mixture = mixture or exp.data.mixture()
    if not isinstance(lang_stages, Mapping):
        lang_stages = {mixture[0].lang: lang_stages}
    sources = []
    data_inputs: dict[str, Stage] = {}
    for spec in mixture:
        for split, locations in (("train", spec.train), ("validation", spec.validation)):
            for i, location in enumerate(locations):
                if isinstance(location, ProducedData):
                    data_inputs[_data_input(spec, split, i)] = location.stage
                else:
                    check_exists(location, f"data.sources.{spec.key}.{split}")
        entry = {"lang": spec.lang, "train": [location_spec(x) for x in spec.train],
                 "validation": [location_spec(x) for x in spec.validation], "upsampling": spec.upsampling,
                 "max_train_examples": spec.max_train_examples,
                 "max_validation_examples": spec.max_validation_examples, "subset": spec.subset}
        if spec.name is not None:  # keys of the data config's own sources stay as they were
            entry = {"name": spec.name, **entry, "language_module": spec.language_module}
        sources.append(entry)
    spec = {**model.spec, "module": exp.module_spec(exp.task_module), "task": exp.task_cfg,
            "sources": sources, "sampling": as_dict(exp.data.sampling) if len(mixture) > 1 else None,
            **exp.training_spec()}
    inputs = {**model.inputs(), **{f"lang/{lang}": stage for lang, stage in lang_stages.items() if stage is not None},
              **data_inputs}
    return Stage("task_module", label, spec, partial(_build_task_module, exp, mixture, model), inputs, version=2,
                 validate=partial(_check_task_module, exp, mixture))


def _data_input(spec: SourceSpec, split: str, index: int) -> str:
    """The input name of a source file that a stage produces."""
    return f"data/{spec.key}/{split}/{index}"


def _resolved(spec: SourceSpec, split: str, locations: list[Any], ctx: StageContext | None) -> list[DataLocation]:
    if ctx is None:
        return [x for x in locations if not isinstance(x, ProducedData)]
    return [x.location(ctx, _data_input(spec, split, i)) if isinstance(x, ProducedData) else x
            for i, x in enumerate(locations)]


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
                if isinstance(location, ProducedData):  # written by a stage of ours (which checks its input)
                    continue
                at = f"data.sources.{spec.key}.{split}" + (f"[{i}]" if len(locations) > 1 else "")
                check_data(location, at, family.preprocess, family.text_file_format())


def _build_task_module(exp: Experiment, mixture: list[SourceSpec], base: BaseModel,
                       ctx: StageContext) -> dict[str, Any]:
    path = base.path(ctx)
    family = build_task(exp.task_cfg, exp.tokenizer_of(path))
    train: dict[str, list[dict[str, Any]]] = {}
    validation: dict[str, list[dict[str, Any]]] = {}
    for spec in mixture:
        where = f"data.sources.{spec.key}"
        train[spec.key] = _source_examples(family, _resolved(spec, "train", spec.train, ctx), spec.max_train_examples,
                                           f"{where}.train", spec.subset,
                                           subset_rng(exp.seed, "source", spec.key, "train"))
        if spec.validation:
            validation[spec.key] = _source_examples(family, _resolved(spec, "validation", spec.validation, ctx),
                                                    spec.max_validation_examples, f"{where}.validation", spec.subset,
                                                    subset_rng(exp.seed, "source", spec.key, "validation"))
    torch.manual_seed(exp.seed)  # the new head's random init: the same in every run (and resumed run)
    model = family.build_model(path, base.config)
    base_hash = exp.base_hash(model.body, path)
    meta = {"base_model": base.name(ctx), "base_hash": base_hash, "kind": "task", "task": family.name,
            "source": ",".join(train)}
    by_language = {}
    for name, directory in ctx.inputs.items():
        if not name.startswith("lang/"):
            continue
        module = load_module(exp.lang_module.method, directory)
        module.check_base(base_hash, where=str(directory))
        by_language[name.split("/", 1)[1]] = module
    meta["trained_on"] = {lang: ctx.stage.inputs[f"lang/{lang}"].key for lang in by_language}
    # each source trains with its language's module (a language's gold shots and translated data alike)
    modules = {s.key: by_language[s.lang] for s in mixture if s.lang in by_language and s.language_module}
    if len(mixture) == 1:  # train on theta0 + phi_lang(source) throughout (§4.3.2)
        if modules:
            modules[mixture[0].key].attach(model, with_head=False)
        examples: Any = train[mixture[0].key]
    else:  # each batch one language, its module active for that step only (§4.4.4)
        examples = MultiSourceTrain(train, {s.key: s.upsampling for s in mixture}, modules, exp.data.sampling)
    request = TrainRequest(model, examples, validation, family.collator(), family.schedule,
                           exp.fitter(ctx.stage.label, ctx.work_dir), exp.seed, base.config.num_parameters, meta)
    module, summary = METHODS[exp.task_module.method].train(exp.task_module, request)
    module.save(ctx.out_dir)
    return {**summary, "train_examples": {lang: len(e) for lang, e in train.items()}}
