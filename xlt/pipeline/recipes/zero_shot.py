"""Zero-shot cross-lingual transfer with composable modules (thesis §4.3.2, Algorithm 1;
MAD-X set-up of §2.3.4): language modules for the source(s) and every target, a task module
trained on base + source language module (multi-source, §4.4.4: each batch with its own
language's module), and inference with base + task module + target language module (or the
TA-only / source-LA variants). Languages marked ``data.languages.<l>.language_module: false``
(no usable corpus) go without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlt.errors import ConfigError
from xlt.eval.metrics import average
from xlt.pipeline.recipes import Plan, register_recipe
from xlt.pipeline.stage import Stage, StageResult
from xlt.pipeline.stages import evaluation_stage, language_module_stage, task_module_stage
from xlt.typology import closest_language


def module_summary(exp: Any, results: dict[str, StageResult], lang_stages: dict[str, Stage]) -> dict[str, Any]:
    """Method, configured budget and trained K/density of the task and language modules (for reports)."""
    summary = {}
    for role, cfg, stages in (("task_module", exp.task_module, [s for s in results.values()
                                                                 if s.stage.kind == "task_module"]),
                              ("lang_module", exp.lang_module, [results[s.label] for s in lang_stages.values()])):
        entry = {"method": cfg.method, "density": getattr(cfg, "density", None),
                 "num_trainable": getattr(cfg, "num_trainable", None)}
        trained = [r.metrics for r in stages if "density" in r.metrics]
        if trained:
            entry["trained_k"] = trained[0].get("k")
            entry["trained_density"] = sum(m["density"] for m in trained) / len(trained)
        summary[role] = entry
    return summary


@dataclass
class ZeroShotConfig:
    name: str = "zero_shot"
    source_language_module: bool = True  # train the task module on base + source language module
    inference_language_module: str = "target"  # target | source | none (TA-only, §4.4.1)
    # The languages that have a language module; any other language uses the module of the pool language
    # closest to it by cosine similarity of URIEL vectors (MAD-X's fallback, §3.4.2). None: every language.
    language_module_pool: list[str] | None = None
    typology_aliases: dict[str, str] = field(default_factory=dict)  # code -> URIEL code (xlt.typology)


@register_recipe("zero_shot", ZeroShotConfig)
def plan_zero_shot(exp: Any, cfg: ZeroShotConfig) -> Plan:
    if cfg.inference_language_module not in ("target", "source", "none"):
        raise ConfigError(f"recipe.inference_language_module={cfg.inference_language_module!r}: "
                          "expected target, source or none")
    if not exp.data.targets:
        raise ConfigError("data.targets: no target languages")
    uses_language_modules = exp.lang_module.method != "none"
    lang_stages: dict[str, Stage] = {}
    pool = cfg.language_module_pool
    if pool is not None and not pool:
        raise ConfigError("recipe.language_module_pool: empty (null means: every language has its own module)")
    module_language = {lang: lang if pool is None or lang in pool else
                       closest_language(lang, pool, aliases=cfg.typology_aliases)
                       for lang in [*(spec.lang for spec in exp.data.mixture()), *exp.data.targets]}

    def lang_stage(lang: str) -> Stage | None:
        if not uses_language_modules or not exp.data.has_language_module(lang):
            return None
        lang = module_language[lang]
        if lang not in lang_stages:
            lang_stages[lang] = language_module_stage(exp, lang)
        return lang_stages[lang]

    source = exp.data.source_lang
    mixture = exp.data.mixture()
    task = task_module_stage(exp, {spec.lang: lang_stage(spec.lang) if cfg.source_language_module
                                   and spec.language_module else None for spec in mixture})
    evaluations = {}
    for target in exp.data.targets:
        at_inference = {"target": target, "source": source, "none": None}[cfg.inference_language_module]
        evaluations[target] = evaluation_stage(exp, target, task, lang_stage(at_inference) if at_inference else None)

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        languages = {lang: {k: v for k, v in results[stage.label].metrics.items() if k != "examples"}
                     for lang, stage in evaluations.items()}
        collected = {"languages": languages, "average": average(list(languages.values())),
                     "sources": [spec.lang for spec in mixture], "modules": module_summary(exp, results, lang_stages)}
        if pool is not None and uses_language_modules:
            collected["language_modules"] = module_language  # which language's module served each language
        return collected

    return Plan([*lang_stages.values(), task, *evaluations.values()], collect)
