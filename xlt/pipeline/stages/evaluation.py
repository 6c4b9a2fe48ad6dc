"""``eval/<l>``: base + task module (+ head) + target language module, scored on the target's test set
(§4.3.2)."""

from __future__ import annotations

from functools import partial
from typing import Any

from xlt.data.locations import DataLocation, load_location
from xlt.errors import ConfigError
from xlt.pipeline.base_model import BaseModel
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.produced import ProducedData, location_spec
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import attach_module, check_data
from xlt.tasks import build_task

TEST_INPUT = "test"  # the input name of a produced test set


def evaluation_stage(exp: Experiment, lang: str, task_stage: Stage, lang_stage: Stage | None,
                     model: BaseModel | None = None, test: ProducedData | None = None) -> Stage:
    """``lang``'s test set scored with base ``model`` (default: the configured one) + task module (+ head)
    + ``lang_stage``'s language module. ``test``: a test set a stage produces instead (translate-test,
    §6.4.3: the target's test set translated into the source language)."""
    model = model or exp.base_model
    location: DataLocation | ProducedData | None = test or exp.data.target_location(lang, "test")
    if location is None:
        raise ConfigError(f"data.target.test: no test location for target {lang!r}")
    if isinstance(location, DataLocation):
        check_exists(location, f"data.target.test ({lang})")
    spec = {**model.spec, "task": exp.task_cfg, "lang": lang, "test": location_spec(location),
            "precision": exp.trainer.precision, "lang_module_method": exp.lang_module.method,
            "task_module_method": exp.task_module.method}
    inputs = {**model.inputs(), "task": task_stage, **({"lang": lang_stage} if lang_stage is not None else {}),
              **({TEST_INPUT: test.stage} if test is not None else {})}
    return Stage("evaluation", f"eval/{lang}", spec, partial(_build_evaluation, exp, lang, location, model), inputs,
                 validate=partial(_check_evaluation, exp, lang, location))


def _check_evaluation(exp: Experiment, lang: str, location: DataLocation | ProducedData) -> None:
    if isinstance(location, ProducedData):  # written by a stage of ours
        return
    family = build_task(exp.task_cfg, exp.tokenizer)
    check_data(location, f"data.target.test ({lang})", family.preprocess, family.text_file_format())


def _build_evaluation(exp: Experiment, lang: str, location: DataLocation | ProducedData, base: BaseModel,
                      ctx: StageContext) -> dict[str, Any]:
    path = base.path(ctx)
    family = build_task(exp.task_cfg, exp.tokenizer_of(path))
    where = f"data.target.test ({lang})"
    if isinstance(location, ProducedData):
        location, where = location.location(ctx, TEST_INPUT), f"{where}, translated"
    examples = family.preprocess(load_location(location, where, family.text_file_format()), where)
    model = family.build_model(path, base.config)
    attach_module(exp, exp.task_module.method, ctx.inputs["task"], model, True, path)  # theta + phi_task (+ head)
    if "lang" in ctx.inputs:  # + phi_lang(target) (§4.3.2)
        attach_module(exp, exp.lang_module.method, ctx.inputs["lang"], model, False, path)
    results = exp.fitter(ctx.stage.label).evaluate(model, {lang: examples}, family.collator(),
                                                   family.schedule.batch_size)
    return {**results[lang], "examples": len(examples)}
