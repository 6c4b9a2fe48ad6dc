"""Instruction tuning of an LLM with a PEFT module, then evaluation (thesis chapter 7, §7.4-7.5).

Stages:

1. ``task`` (``task_module``): the task module (SpIEL-AG/MA, LoRA, (IA)^3, full; quantised variants)
   trained on the data config's ``source.train`` instruction data (Flan v2, GPT4-Alpaca, Tulu v2);
   with ``compose`` (Table 7.2's "Tulu v2 + GPT4-Alpaca"), one module per named data config,
   ``task/<name>``;
2. ``eval/<set>`` (``evaluation``): the base model plus the module(s), composed by merging them into
   the weights one after the other (SFTs: theta + sum of scatters, eq. 7.9; LoRA: W + sum of
   (alpha/r) B A), scored on each multiple-choice set in ``data.targets`` (MMLU-format files or
   hub splits) by the built-in log-likelihood evaluator; ``evaluate_base`` adds ``eval_base/<set>``,
   the "Original" rows;
3. ``harness`` (``evaluation``): lm-evaluation-harness tasks (MMLU, GSM, BBH, TyDiQA, HumanEval)
   when ``lm-eval`` is installed and the data are not the bundled samples (local tasks from
   ``harness.include_path`` run on samples too);
4. ``export`` (``export``, optional): the merged model written with ``save_pretrained``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from xlt.config import parse
from xlt.errors import ConfigError
from xlt.eval.harness import HarnessTask, harness_available
from xlt.eval.metrics import average
from xlt.pipeline.data_config import parse_data_config
from xlt.pipeline.recipes import Plan, register_recipe
from xlt.pipeline.runner import Stage, StageResult
from xlt.pipeline.stages.instruction import HarnessConfig, evaluation_stage, export_stage, harness_stage, training_stage

log = logging.getLogger(__name__)


@dataclass
class InstructionTuningConfig:
    name: str = "instruction_tuning"
    compose: dict[str, Any] = field(default_factory=dict)  # name -> data config: train on each, evaluate the sum
    evaluate_base: bool = False  # also score the unmodified base model ("Original" rows of Tables 7.2-7.3)
    export_merged: bool = False  # write the merged model with save_pretrained
    harness: HarnessConfig = field(default_factory=HarnessConfig)

    def __post_init__(self) -> None:
        self.harness.tasks = [t if isinstance(t, HarnessTask) else parse(HarnessTask, t, "recipe.harness.tasks")
                              for t in self.harness.tasks]


# ----------------------------------------------------------------------------- the plan
@register_recipe("instruction_tuning", InstructionTuningConfig)
def plan_instruction_tuning(exp: Any, cfg: InstructionTuningConfig) -> Plan:
    if exp.lang_module.method != "none":
        raise ConfigError("recipe instruction_tuning: lang_module must be none")
    if exp.task_cfg.get("family") != "instruction":
        raise ConfigError(f"recipe instruction_tuning needs task.family=instruction, got {exp.task_cfg.get('family')}")
    if not exp.data.targets:
        raise ConfigError("data.targets: no evaluation sets")
    if cfg.compose:
        modules = {}
        for name, node in cfg.compose.items():
            data = parse_data_config({**dict(node), "use_samples": exp.data.use_samples,
                                      "samples_dir": exp.data.samples_dir})
            modules[name] = training_stage(exp, name, data)
    else:
        modules = {"": training_stage(exp, "", exp.data)}
    evaluations = {target: evaluation_stage(exp, target, modules) for target in exp.data.targets}
    stages: list[Stage] = [*modules.values(), *evaluations.values()]
    base = {}
    if cfg.evaluate_base:
        base = {target: evaluation_stage(exp, target, modules, base=True) for target in exp.data.targets}
        stages += base.values()
    harness_note = None
    if cfg.harness.tasks:
        if exp.data.use_samples and cfg.harness.include_path is None:
            harness_note = "skipped: the harness needs the real benchmarks (bundled samples in use)"
        elif not harness_available():
            harness_note = "skipped: lm-eval is not installed (pip install xlt[eval])"
        else:
            stages.append(harness_stage(exp, cfg.harness, modules))
        if harness_note:
            log.warning("harness %s", harness_note)
    if cfg.export_merged:
        stages.append(export_stage(exp, modules))

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        def metrics(stage: Stage) -> dict[str, Any]:
            return {k: v for k, v in results[stage.label].metrics.items() if k not in ("sequences", "questions")}

        sets = {target: metrics(stage) for target, stage in evaluations.items()}
        out: dict[str, Any] = {"languages": sets, "average": average(list(sets.values()))}
        if base:
            out["base"] = {target: metrics(stage) for target, stage in base.items()}
        if "harness" in results:
            out["harness"] = results["harness"].metrics
        elif harness_note:
            out["harness"] = harness_note
        out["modules"] = {label or "task": results[stage.label].metrics for label, stage in modules.items()}
        if "export" in results:
            out["export"] = str(results["export"].path / "model")
        return out

    return Plan(stages, collect)
