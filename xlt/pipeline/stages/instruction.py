"""Stages of instruction tuning (chapter 7, §7.4-7.5): ``task`` / ``task/<name>`` (a PEFT module trained on
instruction data), ``eval/<set>`` (base + the module(s), composed by merging, scored on a multiple-choice
set), ``harness`` (lm-evaluation-harness) and ``export`` (the merged model). The plan that uses them:
xlt/pipeline/recipes/instruction_tuning.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from xlt.data.locations import DataLocation, fingerprint, load_location
from xlt.errors import ConfigError
from xlt.eval.harness import HarnessTask, run_harness
from xlt.methods import METHODS, TrainRequest
from xlt.methods.peft.config import module_quantization
from xlt.pipeline.data_config import DataConfig, check_exists
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_data, load_module
from xlt.tasks import build_task
from xlt.utils.hashing import directory_hash

log = logging.getLogger(__name__)


@dataclass
class HarnessConfig:
    tasks: list[HarnessTask] = field(default_factory=list)
    batch_size: int = 1
    confirm_run_unsafe_code: bool = False  # HumanEval executes generated code
    include_path: str | None = None  # a folder of local task YAMLs (e.g. xlt.eval.harness.SAMPLE_TASKS)

    def include_fingerprint(self) -> str | None:
        """Content hash of the files under ``include_path`` (its task YAMLs and what sits beside them;
        Python caches excluded), so that editing a local task invalidates the harness stage."""
        if self.include_path is None:
            return None
        folder = Path(self.include_path).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"recipe.harness.include_path: {self.include_path} is not a folder")
        caches = [str(f.relative_to(folder)) for f in folder.rglob("*") if "__pycache__" in f.parts]
        return directory_hash(folder, exclude=caches)


def _family(exp: Any) -> Any:
    family = build_task(exp.task_cfg, exp.tokenizer)
    if not hasattr(family, "preprocess_multiple_choice"):
        raise ConfigError(f"recipe instruction_tuning needs task.family=instruction, got {exp.task_cfg.get('family')}")
    return family


def _model(exp: Any, family: Any, quantize: str | None) -> Any:
    return family.build_model(exp.model_path, exp.model, quantize=quantize)


def training_stage(exp: Any, name: str, data: DataConfig) -> Stage:
    train = data.source_location("train")
    validation = data.source_location("validation")
    check_exists(train, f"data ({name}).source.train")
    if validation is not None:
        check_exists(validation, f"data ({name}).source.validation")
    spec = {**exp.model_spec(), "module": exp.module_spec(exp.task_module), "task": exp.task_cfg,
            "data": data.name,  # the module's identity (seeds SpIEL's random initial indices)
            "train": fingerprint(train), "validation": fingerprint(validation) if validation else None,
            **exp.training_spec()}
    label = "task" if name == "" else f"task/{name}"
    return Stage("task_module", label, spec, partial(_train, exp, name, data.name, train, validation),
                 validate=partial(_check_training, exp, name, train, validation))


def _check_training(exp: Any, name: str, train: DataLocation, validation: DataLocation | None) -> None:
    where = f"data ({name})" if name else "data"
    preprocess = _family(exp).preprocess
    check_data(train, f"{where}.source.train", preprocess)
    if validation is not None:
        check_data(validation, f"{where}.source.validation", preprocess)


def _train(exp: Any, name: str, data_name: str, train_location: DataLocation,
           validation_location: DataLocation | None, ctx: StageContext) -> dict[str, Any]:
    family = _family(exp)
    where = f"data ({name})" if name else "data"
    train = family.preprocess(load_location(train_location, f"{where}.source.train"), f"{where}.source.train")
    validation = {}
    if validation_location is not None:
        validation = {"validation": family.preprocess(load_location(validation_location, f"{where}.source.validation"),
                                                      f"{where}.source.validation")}
    model = _model(exp, family, module_quantization(exp.task_module))
    meta = {"base_model": exp.model.name_or_path or exp.model_path, "base_hash": exp.base_hash(model.body),
            "kind": "task", "task": family.name, "data": data_name,
            "lora_params_per_rank": exp.model.lora_params_per_rank}
    request = TrainRequest(model, train, validation, family.collator(), family.schedule, exp.fitter(ctx.stage.label),
                           exp.seed, exp.model.num_parameters, meta)
    module, summary = METHODS[exp.task_module.method].train(exp.task_module, request)
    module.save(ctx.out_dir)
    return {**summary, "examples": len(train)}


def _attach_all(exp: Any, model: Any, ctx: StageContext, check: bool = True) -> list[Any]:
    handles = []
    for key in sorted(k for k in ctx.inputs if k.startswith("module")):
        module = load_module(exp.task_module.method, ctx.inputs[key])
        # check=False: the caller vouches for the base (a module trained on NF4 weights, merged into the
        # unquantised ones, whose hash differs by construction)
        module.check_base(exp.base_hash(model.body) if check else None, where=str(ctx.inputs[key]))
        handles.append(module.attach(model, with_head=True))
    return handles


def evaluation_stage(exp: Any, target: str, modules: dict[str, Stage], base: bool = False) -> Stage:
    test = exp.data.target_location(target, "test")
    if test is None:
        raise ConfigError(f"data.target.test: no test location for evaluation set {target!r}")
    check_exists(test, f"data.target.test ({target})")
    fewshot = exp.data.target_location(target, "validation")
    spec = {**exp.model_spec(), "task": exp.task_cfg, "set": target, "test": fingerprint(test),
            "fewshot": fingerprint(fewshot) if fewshot else None, "precision": exp.trainer.precision,
            "method": None if base else exp.task_module.method,
            "quantize": module_quantization(exp.task_module)}
    inputs = {} if base else {f"module{i}": stage for i, stage in enumerate(modules.values())}
    label = f"eval_base/{target}" if base else f"eval/{target}"
    return Stage("evaluation", label, spec, partial(_evaluate, exp, target, test, fewshot), inputs,
                 validate=partial(_check_evaluation, exp, target, test, fewshot))


def _check_evaluation(exp: Any, target: str, test: DataLocation, fewshot: DataLocation | None) -> None:
    exemplars = check_data(fewshot, f"data.target.validation ({target})") if fewshot else None
    family = _family(exp)
    check_data(test, f"data.target.test ({target})",
               lambda rows, where: family.preprocess_multiple_choice(rows, where, exemplars))


def _evaluate(exp: Any, target: str, test: DataLocation, fewshot: DataLocation | None,
              ctx: StageContext) -> dict[str, Any]:
    family = _family(exp)
    where = f"data.target.test ({target})"
    exemplars = load_location(fewshot, f"data.target.validation ({target})") if fewshot else None
    sequences = family.preprocess_multiple_choice(load_location(test, where), where, exemplars)
    model = _model(exp, family, module_quantization(exp.task_module))
    _attach_all(exp, model, ctx)
    model.metric_factory = family.mc_metric
    batch_size = exp.trainer.eval_batch_size or 2 * family.schedule.batch_size
    results = exp.fitter(ctx.stage.label).evaluate(model, {target: sequences}, family.collator(), batch_size)
    return {**results[target], "sequences": len(sequences)}


def harness_stage(exp: Any, cfg: HarnessConfig, modules: dict[str, Stage]) -> Stage:
    spec = {**exp.model_spec(), "task": exp.task_cfg, "harness": [vars(t) for t in cfg.tasks],
            "method": exp.task_module.method, "quantize": module_quantization(exp.task_module)}
    if cfg.include_path is not None:  # keys of runs without local tasks stay as they were
        spec["harness_include"] = cfg.include_fingerprint()
    inputs = {f"module{i}": stage for i, stage in enumerate(modules.values())}
    return Stage("evaluation", "harness", spec, partial(_harness, exp, cfg), inputs)


def _harness(exp: Any, cfg: HarnessConfig, ctx: StageContext) -> dict[str, Any]:
    family = _family(exp)
    model = _model(exp, family, module_quantization(exp.task_module))
    _attach_all(exp, model, ctx)
    model.backbone.eval()
    return run_harness(model.backbone, exp.tokenizer, cfg.tasks, cfg.batch_size, cfg.confirm_run_unsafe_code,
                       cfg.include_path)


def export_stage(exp: Any, modules: dict[str, Stage]) -> Stage:
    spec = {**exp.model_spec(), "method": exp.task_module.method}
    inputs = {f"module{i}": stage for i, stage in enumerate(modules.values())}
    return Stage("export", "export", spec, partial(_export, exp), inputs)


def _export(exp: Any, ctx: StageContext) -> dict[str, Any]:
    """The merged model (base + modules) in the unquantised base dtype, with its tokenizer."""
    family = _family(exp)
    model = _model(exp, family, None)
    _attach_all(exp, model, ctx, check=module_quantization(exp.task_module) is None)
    out = Path(ctx.out_dir) / "model"
    model.backbone.save_pretrained(out)
    exp.tokenizer.save_pretrained(out)
    return {"path": "model", "parameters": sum(p.numel() for p in model.backbone.parameters())}
