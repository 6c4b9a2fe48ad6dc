"""BiStillation (thesis chapter 5, §5.3-5.4): a smaller, faster student per source-target pair, distilled
from the configured model (the MMT), then task-distilled with LT-SFT and evaluated on the target.

``recipe.variant`` picks the row of Tables 5.3-5.6:

- ``tf`` (BiStil-TF): per target, ``vocabulary/<t>`` -> ``student_init/<t>`` (teacher layers s, 2s, ..., L_T)
  -> ``student/<t>`` (stage 1: L_attn + L_hidden, the teacher wearing each batch's language SFT) ->
  ``task/<t>`` (stage 2: the student's task SFT trained on L_attn + L_hidden + L_pred against the teacher
  = trimmed MMT + source language SFT + ``teacher_task``, the undistilled pipeline's task SFT) -> ``eval/<t>``
  (student + its task SFT on the target's test set, no language module: the student is bilingual);
- ``st`` (BiStil-ST): the same student, its task SFT trained on the task loss alone (the ordinary
  ``task_module`` stage on the student);
- ``scratch`` (Scratch, §5.4.1): a student of the same shape randomly initialised and trained "from scratch
  instead of distilling" it from the MMT: stage 1's schedule and batches ("when distilling bilingual models or
  learning them from scratch, training lasts 200,000 steps", §5.4.2) with the student's own MLM loss and no
  teacher (the reference code's ``bilingual_mlm.py``), its task SFT trained as ``st``;
- ``ltsft`` (LtSft, the upper bound): the undistilled chapter-4 pipeline (the zero-shot recipe's stages) on
  the MMT;
- a name under ``recipe.baselines`` (e.g. ``distilmbert``, ``minilm``): the chapter-4 pipeline on another
  model (a multilingually distilled MMT, §5.4.1), with its own language-module settings.

One student per (pair, LRF, initialisation) whatever the task or variant: its stages' keys hold no task.
Every variant ends with ``efficiency`` (Tables 5.2, 5.7) on the first target: the variant's model + task
module against LtSft on the MMT with the same head. Under the smoke profile (a tiny ``model``), a baseline
that names a hub model is replaced by a tiny model of its architecture with the same sizes and L_T / ``lrf``
layers (the real DistilmBERT and MiniLMv2 have half their teachers' layers, Table 5.2: the sweeps' LRF 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from xlt.config import as_dict, check_number, parse, to_plain
from xlt.errors import ConfigError
from xlt.eval.metrics import average
from xlt.methods import parse_module_config
from xlt.models.loading import ModelConfig
from xlt.models.vocabulary import DEFAULT_THRESHOLD
from xlt.pipeline.recipes import Plan, register_recipe
from xlt.pipeline.recipes.zero_shot import ZeroShotConfig, plan_zero_shot
from xlt.pipeline.runner import Stage, StageResult
from xlt.pipeline.stages.distillation import (
    DistillationConfig,
    bilingual_distillation_stage,
    student_init_stage,
    student_model,
    task_distillation_stage,
    vocabulary_stage,
)
from xlt.pipeline.stages.efficiency import EfficiencyConfig, efficiency_stage
from xlt.pipeline.stages.evaluation import evaluation_stage
from xlt.pipeline.stages.language_module import language_module_stage
from xlt.pipeline.stages.task_module import task_module_stage

VARIANTS = {
    "tf": "BiStil-TF: stage-2 task distillation (L_attn + L_hidden + L_pred) with LT-SFT (§5.3.3)",
    "st": "BiStil-ST: the student's task SFT trained on the task loss alone (§5.4.1)",
    "scratch": "Scratch: a randomly initialised student of the same shape, task SFT as BiStil-ST (§5.4.1)",
    "ltsft": "LtSft: the undistilled pipeline on the MMT (the upper bound, §5.4.1)",
}
DISTILLED = ("tf", "st", "scratch")


@dataclass
class BaselineConfig:
    """``recipe.baselines.<name>``: a multilingually distilled MMT run through the undistilled pipeline."""

    model: dict[str, Any]  # a model config (conf/model/*.yaml)
    lang_module: dict[str, Any] = field(default_factory=dict)  # changes to lang_module (method: none: no module)


@dataclass
class BiStilConfig:
    name: str = "bistil"
    variant: str = "tf"  # tf | st | scratch | ltsft | a key of baselines
    lrf: int = 2  # layer reduction factor s = L_T / L_S (§5.4.2: 2 and 3)
    smoke_layers: int = 6  # the layers of +profile=smoke's tiny teacher (the profile reads it): LRF 2 and 3 divide it
    vocabulary_threshold: float = DEFAULT_THRESHOLD  # §5.3.2: keep v if max(p_src, p_tgt) >= 1e-6
    temperature: float = 2.0  # of L_pred (the reference code's)
    distillation: DistillationConfig = field(default_factory=DistillationConfig)
    efficiency: EfficiencyConfig = field(default_factory=EfficiencyConfig)
    baselines: dict[str, Any] = field(default_factory=dict)

    def validate(self, where: str) -> None:
        names = [*VARIANTS, *self.baselines]
        if self.variant not in names:
            raise ConfigError(f"{where}.variant={self.variant!r}: expected one of {', '.join(names)}")
        check_number(self.lrf, f"{where}.lrf", minimum=1, integer=True)
        check_number(self.smoke_layers, f"{where}.smoke_layers", minimum=1, integer=True)
        check_number(self.vocabulary_threshold, f"{where}.vocabulary_threshold", minimum=0, maximum=1)
        check_number(self.temperature, f"{where}.temperature", above=0)
        for name in self.baselines:
            if name in VARIANTS:
                raise ConfigError(f"{where}.baselines.{name}: a baseline may not take the name of a variant")
        self.baselines = {name: parse(BaselineConfig, node, f"{where}.baselines.{name}")
                          for name, node in self.baselines.items()}


def smoke_stand_in(exp: Any, model: ModelConfig, lrf: int = 1) -> ModelConfig:
    """Under the smoke profile (a tiny configured model) another model named by hub id or path becomes a
    tiny model of its architecture with the configured model's tiny sizes and 1 / ``lrf`` of its layers (so
    a smaller baseline stays smaller in Table 5.7's ratios, as DistilmBERT's 6 of mBERT's 12 layers)."""
    if exp.model.is_tiny and not model.is_tiny:
        tiny = dict(exp.model.tiny or {})
        if "num_hidden_layers" in tiny:
            tiny["num_hidden_layers"] = max(1, int(tiny["num_hidden_layers"]) // lrf)
        return replace(model, name_or_path=None, revision=None, tiny=tiny)
    return model


def baseline_experiment(exp: Any, name: str, baseline: BaselineConfig, lrf: int = 1) -> Any:
    """The experiment with the baseline's model and language-module settings (``lrf``: its smoke stand-in's
    layer reduction, :func:`smoke_stand_in`)."""
    where = f"recipe.baselines.{name}"
    model = smoke_stand_in(exp, parse(ModelConfig, baseline.model, f"{where}.model"), lrf)
    model.validate(f"{where}.model")
    changes = to_plain(baseline.lang_module) or {}
    if changes.get("method", exp.lang_module.method) != exp.lang_module.method:
        node = changes  # another method: its own config
    else:
        node = {**as_dict(exp.lang_module), **changes}
        for key in ("train", "mlm", "phase1", "phase2"):
            if isinstance(changes.get(key), dict) and isinstance(as_dict(exp.lang_module).get(key), dict):
                node[key] = {**as_dict(exp.lang_module)[key], **changes[key]}
    return exp.with_model(model, parse_module_config(node, f"{where}.lang_module"))


def _check_lrf(exp: Any, lrf: int) -> None:
    """The LRF divides the teacher's layers (checked when the model's config can be read without a download)."""
    from transformers import AutoConfig

    try:
        layers = AutoConfig.from_pretrained(exp.model_path).num_hidden_layers
    except (OSError, ValueError):
        return  # not available offline yet: student_init checks it
    if layers % lrf:
        hint = (f" (a tiny teacher: set model.tiny.num_hidden_layers, or recipe.smoke_layers under +profile=smoke, to "
                f"a multiple of {lrf})" if exp.model.is_tiny else "")
        raise ConfigError(f"recipe.lrf={lrf}: must divide the teacher's {layers} layers{hint}")


@register_recipe("bistil", BiStilConfig)
def plan_bistil(exp: Any, cfg: BiStilConfig) -> Plan:
    if not exp.data.targets:
        raise ConfigError("data.targets: no target languages")
    if cfg.variant not in DISTILLED:
        return _plan_undistilled(exp, cfg)
    if exp.data.is_multisource:
        raise ConfigError("data.sources: BiStil distils for one source-target pair (§5.3); use a single-source "
                          "data config")
    _check_lrf(exp, cfg.lrf)
    source = exp.data.source_lang
    uses_language_modules = exp.lang_module.method != "none"
    lang_stages: dict[str, Stage] = {}

    def lang_stage(lang: str) -> Stage | None:
        if not uses_language_modules or not exp.data.has_language_module(lang):
            return None
        if lang not in lang_stages:
            lang_stages[lang] = language_module_stage(exp, lang)
        return lang_stages[lang]

    teacher_task = None
    if cfg.variant == "tf":  # the undistilled pipeline's task module (base + source language module)
        teacher_task = task_module_stage(exp, lang_stage(source))
        teacher_task.label = "teacher_task"
    initialisation = "scratch" if cfg.variant == "scratch" else "teacher"
    students: dict[str, dict[str, Stage]] = {}
    evaluations: dict[str, Stage] = {}
    for target in exp.data.targets:
        vocabulary = vocabulary_stage(exp, source, target, cfg.vocabulary_threshold)
        init = student_init_stage(exp, vocabulary, target, cfg.lrf, initialisation)
        if initialisation == "scratch":  # trained from scratch by MLM, not distilled (§5.4.1)
            distilled = bilingual_distillation_stage(exp, init, source, target, {}, cfg.distillation, "mlm")
        else:
            distilled = bilingual_distillation_stage(exp, init, source, target,
                                                     {source: lang_stage(source), target: lang_stage(target)},
                                                     cfg.distillation)
        student = student_model(exp, distilled, {"pair": [source, target], "lrf": cfg.lrf,
                                                 "initialisation": initialisation})
        if teacher_task is not None:
            task = task_distillation_stage(exp, student, teacher_task, lang_stage(source), target, cfg.temperature)
        else:
            task = task_module_stage(exp, {source: None}, student)
            task.label = f"task/{target}"
        evaluations[target] = evaluation_stage(exp, target, task, None, student)
        students[target] = {"vocabulary": vocabulary, "init": init, "student": distilled, "task": task,
                            "model": student}  # type: ignore[dict-item]
    first = exp.data.targets[0]
    extra = []
    if cfg.efficiency.enabled:
        extra.append(efficiency_stage(exp, first, students[first]["model"], students[first]["task"],  # type: ignore
                                      cfg.efficiency))

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        languages = {lang: {k: v for k, v in results[stage.label].metrics.items() if k != "examples"}
                     for lang, stage in evaluations.items()}
        per_student = {lang: {**results[parts["init"].label].metrics["student"],
                              "vocab_before": results[parts["vocabulary"].label].metrics.get("vocab_before"),
                              "distillation_steps": results[parts["student"].label].metrics.get("steps"),
                              "distillation_best_step": results[parts["student"].label].metrics.get("best_step"),
                              "heldout_loss": results[parts["student"].label].metrics.get("val/loss")}
                       for lang, parts in students.items()}
        task_results = [results[parts["task"].label] for parts in students.values()]
        collected = {"languages": languages, "average": average(list(languages.values())), "sources": [source],
                     "variant": cfg.variant, "variant_description": VARIANTS[cfg.variant], "lrf": cfg.lrf,
                     "students": per_student, "dimensions": dimensions(results, students),
                     "modules": _modules(exp, task_results, results, lang_stages)}
        if cfg.efficiency.enabled:
            collected["efficiency"] = results["efficiency"].metrics
        return collected

    stages = [*lang_stages.values(), *([teacher_task] if teacher_task else []),
              *(stage for parts in students.values() for key, stage in parts.items() if key != "model"),
              *evaluations.values(), *extra]
    return Plan(stages, collect)


def dimensions(results: dict[str, StageResult], students: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Table 5.2: the teacher's #L, D, #V, #P and the students' (#V and #P averaged over the targets)."""
    inits = [results[parts["init"].label].metrics for parts in students.values()]
    student = dict(inits[0]["student"])
    for key in ("vocab", "parameters"):
        student[key] = sum(m["student"][key] for m in inits) / len(inits)
    return {"teacher": inits[0]["teacher"], "student": student, "lrf": inits[0]["lrf"]}


def _modules(exp: Any, task_results: list[StageResult], results: dict[str, StageResult],
             lang_stages: dict[str, Stage]) -> dict[str, Any]:
    """Method, configured budget and trained K/density of the students' task modules and the teacher's
    language modules (for reports)."""
    summary = {}
    lang_results = [results[stage.label].metrics for stage in lang_stages.values()]
    for role, cfg, trained in (("task_module", exp.task_module, [r.metrics for r in task_results]),
                               ("lang_module", exp.lang_module, lang_results)):
        entry = {"method": cfg.method, "density": getattr(cfg, "density", None),
                 "num_trainable": getattr(cfg, "num_trainable", None)}
        trained = [m for m in trained if "density" in m]
        if trained:
            entry["trained_k"] = trained[0].get("k")
            entry["trained_density"] = sum(m["density"] for m in trained) / len(trained)
        summary[role] = entry
    return summary


def _plan_undistilled(exp: Any, cfg: BiStilConfig) -> Plan:
    """LtSft on the MMT, or on a baseline's model (§5.4.1), plus the efficiency stage."""
    run = exp if cfg.variant == "ltsft" else baseline_experiment(exp, cfg.variant, cfg.baselines[cfg.variant],
                                                                 cfg.lrf)
    plan = plan_zero_shot(run, ZeroShotConfig())
    task = next(stage for stage in plan.stages if stage.kind == "task_module")
    stages = list(plan.stages)
    if cfg.efficiency.enabled:
        stages.append(efficiency_stage(exp, exp.data.targets[0], run.base_model, task, cfg.efficiency))

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        collected = plan.collect(results)
        collected["variant"] = cfg.variant
        collected["variant_description"] = VARIANTS.get(cfg.variant, f"{cfg.variant}: the undistilled pipeline on "
                                                                     f"{run.model.name_or_path or 'its model'}")
        if cfg.efficiency.enabled:
            collected["efficiency"] = results["efficiency"].metrics
        return collected

    return Plan(stages, collect)
