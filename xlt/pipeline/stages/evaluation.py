"""``eval/<l>``: base + task module (+ head) + target language module, scored on the target's test set
(§4.3.2)."""

from __future__ import annotations

from functools import partial
from typing import Any

from xlt.data.locations import DataLocation, fingerprint, load_location
from xlt.errors import ConfigError
from xlt.pipeline.base_model import BaseModel
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import attach_module, check_data
from xlt.tasks import build_task


def evaluation_stage(exp: Experiment, lang: str, task_stage: Stage, lang_stage: Stage | None,
                     model: BaseModel | None = None) -> Stage:
    """``lang``'s test set scored with base ``model`` (default: the configured one) + task module (+ head)
    + ``lang_stage``'s language module."""
    model = model or exp.base_model
    location = exp.data.target_location(lang, "test")
    if location is None:
        raise ConfigError(f"data.target.test: no test location for target {lang!r}")
    check_exists(location, f"data.target.test ({lang})")
    spec = {**model.spec, "task": exp.task_cfg, "lang": lang, "test": fingerprint(location),
            "precision": exp.trainer.precision, "lang_module_method": exp.lang_module.method,
            "task_module_method": exp.task_module.method}
    inputs = {**model.inputs(), "task": task_stage, **({"lang": lang_stage} if lang_stage is not None else {})}
    return Stage("evaluation", f"eval/{lang}", spec, partial(_build_evaluation, exp, lang, location, model), inputs,
                 validate=partial(_check_evaluation, exp, lang, location))


def _check_evaluation(exp: Experiment, lang: str, location: DataLocation) -> None:
    family = build_task(exp.task_cfg, exp.tokenizer)
    check_data(location, f"data.target.test ({lang})", family.preprocess, family.text_file_format())


def _build_evaluation(exp: Experiment, lang: str, location: DataLocation, base: BaseModel,
                      ctx: StageContext) -> dict[str, Any]:
    path = base.path(ctx)
    family = build_task(exp.task_cfg, exp.tokenizer_of(path))
    where = f"data.target.test ({lang})"
    examples = family.preprocess(load_location(location, where, family.text_file_format()), where)
    model = family.build_model(path, base.config)
    attach_module(exp, exp.task_module.method, ctx.inputs["task"], model, True, path)  # theta + phi_task (+ head)
    if "lang" in ctx.inputs:  # + phi_lang(target) (§4.3.2)
        attach_module(exp, exp.lang_module.method, ctx.inputs["lang"], model, False, path)
    results = exp.fitter(ctx.stage.label).evaluate(model, {lang: examples}, family.collator(),
                                                   family.schedule.batch_size)
    return {**results[lang], "examples": len(examples)}
